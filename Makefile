# Build, test and install the CNI plugins. `make install` needs root.
#   make install                native names: simplebridge, ipam-host-local, portmap
#   make install MODE=dropin    also `bridge` and `host-local` (the reference's names),
#                               so existing configs run ours unchanged
#   make uninstall              removes what was installed, restores the replaced binaries
# Replaced binaries are kept in $(CNI_BIN_DIR)/.cnm-backup/ (see scripts/install.sh,
# docs/migration.md). DESTDIR, PREFIX, CNI_BIN_DIR and CNI_CONF_DIR are respected.
PREFIX ?= /usr/local
CNI_BIN_DIR ?= /opt/cni/bin
CNI_CONF_DIR ?= /etc/cni/net.d
MODE ?= native
DIST ?= target/dist
SBIN_DIR ?= $(PREFIX)/sbin
SYSTEMD_DIR ?= /etc/systemd/system
export PREFIX CNI_BIN_DIR CNI_CONF_DIR MODE DIST DESTDIR SBIN_DIR

.PHONY: build test demo install install-dropin install-files install-systemd uninstall

build:
	bash scripts/build-release.sh

test:
	bash scripts/test.sh

demo:
	bash scripts/demo.sh

install: build
	$(MAKE) install-files

install-dropin:
	$(MAKE) install MODE=dropin

# Install already built binaries from $(DIST), without building.
install-files:
	bash scripts/install.sh install

uninstall:
	bash scripts/install.sh uninstall

# The daemons' systemd units (after `make install`).
install-systemd:
	install -d -m 0755 $(DESTDIR)$(SYSTEMD_DIR)
	install -m 0644 services/docker-plugin/systemd/cnm-docker-plugin.service $(DESTDIR)$(SYSTEMD_DIR)/cnm-docker-plugin.service
	install -m 0644 services/firewall/systemd/cnm-firewall-watch.service $(DESTDIR)$(SYSTEMD_DIR)/cnm-firewall-watch.service
