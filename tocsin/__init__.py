"""The entry points (`tocsin` CLI, run, replay): the one layer that reaches both sides."""

# The alerts side's channel registry validates `[channels.NAME]` tables by their type when
# tocsin.toml is loaded (worker.config.CHANNEL_CHECKS); register it before any config is read.
import alerts.channels  # noqa: F401
