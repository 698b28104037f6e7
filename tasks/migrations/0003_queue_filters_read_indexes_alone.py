"""The at-risk queue's card filters read open cards from one index alone (PostgreSQL
INCLUDE of the filtered columns; SQLite builds it without), then their timers by card
(`sla.one_timer_per_cycle`). Led by the owner, it also serves My work."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('tasks', '0002_task_task_flagged_open_task_task_nextless_open'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name='task',
            index=models.Index(condition=models.Q(('status__in', ('done', 'cancelled')), _negated=True), fields=['owner', 'id'], include=('team', 'request_type', 'priority', 'status', 'blocking_reason', 'related_object'), name='task_open_filters'),
        ),
    ]
