"""The site variants of `make load` (see `bench.load.stacks.TARGETS`) and the waitress
launcher that serves on an inherited socket."""
