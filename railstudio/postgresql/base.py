"""Django's PostgreSQL backend, with a per-request health check that costs no round trip.

With CONN_HEALTH_CHECKS, Django checks a reused connection before a request's first query by
running `SELECT 1`: a round trip on every request. A server that ends a session (a restart, an
administrator's pg_terminate_backend, a pooler going away, an idle timeout) writes its goodbye
and closes the socket, so an idle connection whose socket has something to read is one the
server has left. Asking the socket costs microseconds. A connection that is not idle (a
transaction left open) is still checked with `SELECT 1`.
"""

import select

from django.db.backends.postgresql import base
from psycopg import pq

_LEFT = select.POLLIN | select.POLLERR | select.POLLHUP | select.POLLNVAL


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self):
        connection = self.connection
        if connection is None or connection.closed or connection.broken:
            return False
        if connection.info.transaction_status != pq.TransactionStatus.IDLE:
            return super().is_usable()
        try:
            poller = select.poll()
            poller.register(connection.fileno(), select.POLLIN)
            events = poller.poll(0)
        except (OSError, ValueError):
            return False
        return not any(mask & _LEFT for _, mask in events)
