# marketwatch — the two commands a new user needs:
#   make demo   the main job: set-up, search node, demo marketplace, crawl → score → index → top leads
#   make test   the whole test suite, starting the real parts it needs
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)

.PHONY: demo test setup system-deps node-dist clean

setup: system-deps $(STAMP)

# Debian packages the project needs: a JDK and Maven for the search node; Chromium for browser profiles (Debian's
# build at /usr/bin/chromium, never a downloaded one) and CJK fonts so its screenshots show Chinese text, not boxes.
# Installed only when missing.
system-deps:
	@missing=""; \
	command -v java >/dev/null || missing="$$missing openjdk-17-jdk-headless"; \
	command -v mvn >/dev/null || missing="$$missing maven"; \
	command -v useradd >/dev/null || missing="$$missing passwd"; \
	test -x /usr/bin/chromium || missing="$$missing chromium"; \
	dpkg -s fonts-noto-cjk >/dev/null 2>&1 || missing="$$missing fonts-noto-cjk"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi; \
	fi

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

demo: setup
	$(VENV)/bin/marketwatch demo

test: setup
	$(PY) -m pytest

clean:
	-$(VENV)/bin/marketwatch node stop
	rm -rf var
