# web.mk - the web dashboard (web/): its npm packages, pinned in web/package-lock.json,
# and the bundle udcs-farm serves, built into $(BUILD)/web/ (index.html, app.js, app.css).
# Only the build needs Node.js: where npm is missing, `make` says so and goes on, and the
# master serves its plain status page instead. Included by the Makefile.

NPM ?= npm
NODE ?= node
WEB_OUT := $(BUILD)/web
WEB_STAMP := web/node_modules/.stamp
WEB_SRCS := web/build.mjs $(wildcard web/src/*.html web/src/*.js web/src/*.css web/src/views/*.js)
HAVE_NPM := $(shell command -v $(NPM) >/dev/null 2>&1 && command -v $(NODE) >/dev/null 2>&1 && echo yes)

# The browser tests drive Debian's Chromium (with fonts, so screenshots show text). Node.js
# and npm come from Debian only where no npm is installed: NodeSource's nodejs package
# carries its own npm and conflicts with Debian's, so asking dpkg for "npm" would be wrong.
DEBS += chromium fonts-liberation
ifeq ($(shell command -v npm 2>/dev/null),)
DEBS += nodejs npm
endif

.PHONY: web install-web
all: web
install: install-web

ifeq ($(HAVE_NPM),yes)
# `npm ci` installs exactly the lockfile; re-run only when it or package.json changes.
$(WEB_STAMP): web/package.json web/package-lock.json
	@echo "  NPM     web/node_modules"
	$(Q)$(NPM) ci --prefix web --no-audit --no-fund --loglevel=error
	$(Q)touch $@

# build.mjs writes app.js and app.css first and index.html last: index.html stands for all.
$(WEB_OUT)/index.html: $(WEB_STAMP) $(WEB_SRCS)
	@echo "  WEB     $(WEB_OUT)/"
	$(Q)$(NODE) web/build.mjs $(WEB_OUT)

web: $(WEB_OUT)/index.html
else
web:
	@echo "web: npm or node not found, so the dashboard is not built; udcs-farm serves its"
	@echo "     plain status page instead (make deps installs Node.js, then run make web)"
endif

# Where udcs-farm looks for the dashboard when installed: PREFIX/share/udcs/web.
install-web: web
	@if [ -f $(WEB_OUT)/index.html ]; then \
	    install -d $(DESTDIR)$(PREFIX)/share/udcs/web && \
	    install -m 0644 $(WEB_OUT)/index.html $(WEB_OUT)/app.js $(WEB_OUT)/app.css $(DESTDIR)$(PREFIX)/share/udcs/web/; \
	fi
