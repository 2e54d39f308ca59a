"""The home page, served at / : what each concurrency pattern is for, and links to each."""

from app.components.home import home_content
from app.components.monitor import FullMonitor
from app.components.template import serve_page

serve_page("", home_content(), FullMonitor(), intro=False)
