"""Reflex configuration of the Plait studio (``plait studio`` serves it in production mode on
one port; ports and host come from its command line)."""

import reflex as rx
from reflex.plugins.sitemap import SitemapPlugin

from studio.theme import radix_theme

config = rx.Config(
    app_name="studio",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    plugins=[rx.plugins.RadixThemesPlugin(theme=radix_theme())],
    disable_plugins=[SitemapPlugin],
)
