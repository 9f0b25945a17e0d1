"""What both Integrica apps share: the consent configuration, the pages' data and templates."""

from pathlib import Path

SITE_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = SITE_DIR / "templates"
STATIC_DIR = SITE_DIR / "static"
