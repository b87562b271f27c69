"""The project carries its own documents: every relative link in README.md, analysis/README.md
and docs/ resolves to a file inside the repository."""

import re
import unittest

from e2e_support import REPO_ROOT

DOCUMENTS = [REPO_ROOT / "README.md", REPO_ROOT / "analysis" / "README.md",
             *sorted((REPO_ROOT / "docs").glob("*.md"))]
# [text](target) and ![alt](target), the target without an optional "title".
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # http:, https:, mailto:, ...


def relative_links(document):
    """(line number, target) of every link that is not external and not only an anchor."""
    in_code = False
    for number, line in enumerate(document.read_text(encoding="utf-8").splitlines(), 1):
        if line.lstrip().startswith("```"):
            in_code = not in_code
        if in_code or line.startswith("    "):  # code blocks hold commands, not links
            continue
        for target in LINK.findall(line):
            if not EXTERNAL.match(target) and not target.startswith("#"):
                yield number, target


class DocumentLinksTest(unittest.TestCase):
    def test_the_documents_exist(self):
        for document in DOCUMENTS:
            self.assertTrue(document.is_file(), document)
        self.assertIn(REPO_ROOT / "docs" / "physics.md", DOCUMENTS)
        self.assertIn(REPO_ROOT / "docs" / "design.md", DOCUMENTS)

    def test_every_relative_link_resolves_inside_the_repository(self):
        checked = 0
        for document in DOCUMENTS:
            for number, target in relative_links(document):
                with self.subTest(document=str(document.relative_to(REPO_ROOT)), line=number,
                                  target=target):
                    resolved = (document.parent / target.split("#", 1)[0]).resolve()
                    self.assertTrue(resolved.exists(), f"{target} does not exist")
                    self.assertTrue(resolved.is_relative_to(REPO_ROOT),
                                    f"{target} points outside the repository")
                checked += 1
        self.assertGreater(checked, 5, "the link pattern found almost no links")

    def test_the_checker_sees_a_broken_link(self):
        # The pattern is what the test relies on: a link to a missing file must be caught.
        line = "see [the notes](../shared/MODEL.md) and [x](docs/physics.md#2-the-effective)"
        self.assertEqual(LINK.findall(line), ["../shared/MODEL.md", "docs/physics.md#2-the-effective"])
        resolved = (REPO_ROOT / "../shared/MODEL.md").resolve()
        self.assertFalse(resolved.is_relative_to(REPO_ROOT))


if __name__ == "__main__":
    unittest.main()
