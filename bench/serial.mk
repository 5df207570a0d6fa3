# serial.mk: when the goal is `make bench`, its benchmark programs run one
# after another even under make -j (two at once would time each other).
# GNU make only; included by bench/Makefile.inc with -include, which
# automake leaves to make.  `make bench-dirty` alone does not bring
# bench-table.
#
# SPDX-License-Identifier: MIT
ifneq ($(filter bench,$(MAKECMDGOALS)),)
bench-dirty: bench-table
bench-snap: bench-dirty
endif
