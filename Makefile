# Build, test and install the CNI plugins. `make install` needs root.
PREFIX ?= /usr/local
CNI_BIN_DIR ?= /opt/cni/bin
CNI_CONF_DIR ?= /etc/cni/net.d
PLUGINS := simplebridge ipam-host-local portmap
SBIN_DIR ?= $(PREFIX)/sbin
SYSTEMD_DIR ?= /etc/systemd/system

.PHONY: build test demo install install-systemd uninstall

build:
	bash scripts/build-release.sh

test:
	bash scripts/test.sh

demo:
	bash scripts/demo.sh

install: build
	install -d -m 0755 $(CNI_BIN_DIR) $(CNI_CONF_DIR) $(PREFIX)/bin
	for p in $(PLUGINS); do \
		if [ -x target/dist/$$p ]; then install -m 0755 target/dist/$$p $(CNI_BIN_DIR)/$$p; fi; \
	done
	install -m 0755 target/dist/cnm $(PREFIX)/bin/cnm
	install -d -m 0755 $(SBIN_DIR)
	install -m 0755 target/dist/cnm-docker-plugin $(SBIN_DIR)/cnm-docker-plugin
	@if [ -e $(CNI_CONF_DIR)/10-simplebridge.conflist ]; then \
		echo "keeping existing $(CNI_CONF_DIR)/10-simplebridge.conflist"; \
	else \
		install -m 0644 conf-examples/10-simplebridge.conflist $(CNI_CONF_DIR)/10-simplebridge.conflist; \
	fi

uninstall:
	for p in $(PLUGINS); do rm -f $(CNI_BIN_DIR)/$$p; done
	rm -f $(PREFIX)/bin/cnm $(CNI_CONF_DIR)/10-simplebridge.conflist $(SBIN_DIR)/cnm-docker-plugin

# The Docker plugin as a systemd service (after `make install`).
install-systemd:
	install -d -m 0755 $(SYSTEMD_DIR)
	install -m 0644 services/docker-plugin/systemd/cnm-docker-plugin.service $(SYSTEMD_DIR)/cnm-docker-plugin.service
