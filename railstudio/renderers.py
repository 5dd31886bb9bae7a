"""The API's answers: JSON, and DRF's browsable pages for a browser."""

from rest_framework import renderers


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    """DRF's browsable API without the inline <style> of its code colours (Pygments), which the
    Content-Security-Policy refuses (style-src 'self'); the page's stylesheets are files."""

    def get_context(self, *args, **kwargs):
        context = super().get_context(*args, **kwargs)
        context["code_style"] = None
        return context
