"""Row ids in API URLs: whole numbers of 64 bits; anything else is a 404 (SQLite raises an
OverflowError for a larger integer, and '²' passes str.isdigit)."""

from django.http import Http404

from railstudio import numbers


class IdLookupMixin:
    def get_object(self):
        key = self.kwargs.get(self.lookup_url_kwarg or self.lookup_field, "")
        if numbers.small_int(key) is None:
            raise Http404
        return super().get_object()
