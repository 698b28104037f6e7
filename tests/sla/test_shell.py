"""`manage.py shell` auto-imports the settings' historical models without a warning."""

from io import StringIO

from django.core.management import call_command


def test_the_shell_imports_the_historical_models_it_lists(capsys):
    out = StringIO()
    call_command("shell", command="print(HistoricalSlaTarget.__name__)", verbosity=2, stdout=out)

    said = out.getvalue() + capsys.readouterr().out
    assert "could not be automatically imported" not in said
    assert "HistoricalSlaTarget" in said
