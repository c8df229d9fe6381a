"""The workbench's blueprint with every page on it: importing a page's module adds its
routes, so the console registers this one name."""

from bot.console.needs import actions, page, photos, queue, saved_views
from bot.console.needs.blueprint import blueprint

__all__ = ["actions", "blueprint", "page", "photos", "queue", "saved_views"]
