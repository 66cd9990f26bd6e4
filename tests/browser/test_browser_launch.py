"""Without a working Chromium the browser test fails, saying what to install (never skips)."""

from __future__ import annotations

import pytest


def test_a_missing_chromium_fails_with_the_install_command(playwright, chromium_launcher, tmp_path):
    with pytest.raises(pytest.fail.Exception, match=r"No Chromium at .*install-browser"):
        chromium_launcher(playwright, tmp_path / "profile", executable=tmp_path / "no-chromium")


def test_a_chromium_that_will_not_start_fails_with_the_reason(
    playwright, chromium_launcher, tmp_path
):
    broken = tmp_path / "chromium"
    broken.write_text("#!/bin/sh\necho 'cannot open shared object file' >&2\nexit 127\n")
    broken.chmod(0o755)
    with pytest.raises(pytest.fail.Exception, match=r"did not start(.|\n)*install-browser"):
        chromium_launcher(playwright, tmp_path / "profile", executable=broken)
