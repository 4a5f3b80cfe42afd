"""The local run: the testbed behind `lcbuild local run` (emulator, stack group, Lambda service,
schedules), what it reports, its files on disk, and one-off `lcbuild local invoke`."""
