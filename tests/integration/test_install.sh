#!/bin/bash
# make install honours DESTDIR and PREFIX and installs a usable tree.
set -u
. "$(dirname "$0")/lib.sh"
cd "$ROOT" || exit 1
dest="$T/stage"
make -s --no-print-directory NO_DEPS=1 install DESTDIR="$dest" PREFIX=/opt/cs >"$T/install.log" 2>&1
ok $? "make install DESTDIR=... PREFIX=/opt/cs succeeds"
[ -x "$dest/opt/cs/sbin/casesyncd" ] && [ -x "$dest/opt/cs/bin/casesync" ]
ok $? "the programs land under DESTDIR/PREFIX"
[ -f "$dest/opt/cs/share/casesync/mappings/lcs-rest/person.json" ] && [ -f "$dest/opt/cs/share/casesync/mappings/model.json" ]
ok $? "the mapping sets are installed"
[ -f "$dest/etc/casesync/casesync.conf" ]
ok $? "a sample config is installed under DESTDIR/etc"
grep -q "^dir = /opt/cs/share/casesync/mappings$" "$dest/etc/casesync/casesync.conf"
ok $? "the sample config points at the installed mappings"
"$dest/opt/cs/bin/casesync" --version | grep -q '^casesync '
ok $? "the installed tool runs"
[ -f "$dest/opt/cs/share/man/man8/casesyncd.8" ] && [ -f "$dest/opt/cs/share/man/man1/casesync.1" ] &&
	[ -f "$dest/opt/cs/share/man/man5/casesync-mapping.5" ]
ok $? "the man pages are installed"
[ ! -e /opt/cs ]
ok $? "nothing was written outside DESTDIR"
finish
