"""DRF's limit/offset pagination (default limit 10, count included), its page in C42's
envelope: {"data": [...], "meta_data": {"count", "offset", "limit", "next", "previous"}}."""

from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response


class EventsPagination(LimitOffsetPagination):
    default_limit = 10
    max_limit = 100

    def get_paginated_response(self, data: list) -> Response:
        return Response(
            {
                "data": data,
                "meta_data": {
                    "count": self.count,
                    "offset": self.offset,
                    "limit": self.limit,
                    "next": self.get_next_link(),
                    "previous": self.get_previous_link(),
                },
            }
        )
