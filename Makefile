# Build, test and install everything users run (docs/install.md).
#   make install                every binary of scripts/build-release.sh's list, its systemd
#                               unit (not enabled) and settings file; CNI plugins under their
#                               native names: simplebridge, ipam-host-local, portmap, ...
#   make install MODE=dropin    also the reference plugins' names (`bridge`, `host-local`), so
#                               existing configs run ours unchanged
#   make uninstall              removes what was installed, restores the replaced files
#   make docker-plugin          the Docker managed plugin (target/docker-plugin: config.json,
#                               rootfs/); make docker-plugin-create creates and enables it
# Replaced files are kept in $(CNI_BIN_DIR)/.cnm-backup/ (see scripts/install.sh,
# docs/migration.md). DESTDIR, PREFIX, BIN_DIR, SBIN_DIR, CNI_BIN_DIR, CNI_CONF_DIR,
# SYSTEMD_DIR and NETAVARK_PLUGIN_DIR are respected.
PREFIX ?= /usr/local
BIN_DIR ?= $(PREFIX)/bin
SBIN_DIR ?= $(PREFIX)/sbin
CNI_BIN_DIR ?= /opt/cni/bin
CNI_CONF_DIR ?= /etc/cni/net.d
SYSTEMD_DIR ?= /etc/systemd/system
NETAVARK_PLUGIN_DIR ?= $(PREFIX)/libexec/netavark
MODE ?= native
DIST ?= target/dist
DOCKER_PLUGIN_DIR ?= target/docker-plugin
DOCKER_PLUGIN_NAME ?= cnm
export PREFIX BIN_DIR SBIN_DIR CNI_BIN_DIR CNI_CONF_DIR SYSTEMD_DIR NETAVARK_PLUGIN_DIR MODE DIST DESTDIR

.PHONY: build test demo install install-dropin install-files install-systemd uninstall \
	docker-plugin docker-plugin-create

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

# The units come with `make install` now; kept so older instructions still work.
install-systemd: install-files

uninstall:
	bash scripts/install.sh uninstall

# The Docker managed plugin's directory (docs/docker.md, docs/adr/0017-docker-managed-plugin.md).
docker-plugin: build
	bash scripts/docker-managed-plugin.sh --bin $(DIST)/cnm-docker-plugin --out $(DOCKER_PLUGIN_DIR)

# Create and enable it in the local dockerd as $(DOCKER_PLUGIN_NAME) (networks then use
# -d $(DOCKER_PLUGIN_NAME):latest --ipam-driver $(DOCKER_PLUGIN_NAME):latest).
docker-plugin-create: docker-plugin
	docker plugin create $(DOCKER_PLUGIN_NAME) $(DOCKER_PLUGIN_DIR)
	docker plugin enable $(DOCKER_PLUGIN_NAME)
