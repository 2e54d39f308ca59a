"""The home page, served at / : what each concurrency pattern is for, and links to each."""

from app.components.home import home_content
from app.components.monitor import FullMonitor
from app.components.template import page_template
from app.registry import HOME

page_template(HOME, home_content(), FullMonitor()).servable()
