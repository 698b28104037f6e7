"""Open timers by card: `timer_open_card` replaces `timer_open_counts`.

It carries every column that counts and ranks a timer in the at-risk queue (PostgreSQL
INCLUDE; SQLite builds the key alone). Keyed by the card, the same index serves the
unfiltered counts (read whole) and a card-filtered queue, whose cards' timers it reads key
by key, from the open cards of `tasks.task_open_filters` (tasks 0003): at 1M cards a
filter by owner went from ~180 ms of counting (PostgreSQL joined every open timer, read
from the table) to ~9 ms."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('sla', '0007_queue_streams_read_indexes_alone'),
        ('tasks', '0003_queue_filters_read_indexes_alone'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='slatimer',
            name='timer_open_counts',
        ),
        migrations.AddIndex(
            model_name='slatimer',
            index=models.Index(condition=models.Q(('stopped_at__isnull', True)), fields=['task'], include=('calendar', 'target_seconds', 'breached_at', 'due_clock', 'id', 'state', 'due_at', 'running_since', 'warned_at', 'warn_at'), name='timer_open_card'),
        ),
    ]
