# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# Profiles, install, packages (Documentation/install.rst).
#   check-rpc (in make check): the rpc profile's build and unit tests,
#   libc only (selftests/profile/).
CHECK_PARTS += check-rpc
