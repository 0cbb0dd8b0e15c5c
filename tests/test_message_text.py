"""threadrun.message_text: the text of a message, from the reference's message objects and
from the layouts servers in the wild use."""

from __future__ import annotations

import json
import os
import unittest

from tests import threadrun

MESSAGES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "messages")


IMAGE = {"type": "image_file", "image_file": {"file_id": "file_1"}}


def text_part(value: object) -> dict:
    return {"type": "text", "text": {"value": value, "annotations": []}}


class MessageTextTest(unittest.TestCase):
    def test_reference_messages(self) -> None:
        # Every message of the API reference's examples: its text is the one text part's value.
        names = sorted(n for n in os.listdir(MESSAGES_DIR) if n.endswith("-message.json"))
        self.assertGreaterEqual(len(names), 4)
        for name in names:
            with self.subTest(name), open(os.path.join(MESSAGES_DIR, name), "rb") as fh:
                message = json.loads(fh.read())
                values = [p["text"]["value"] for p in message["content"] if p["type"] == "text"]
                self.assertEqual(threadrun.message_text(message), "".join(values))
                self.assertTrue(threadrun.message_text(message))

    def test_shapes(self) -> None:
        image = IMAGE
        cases = [
            ("one part", [text_part("Hello")], "Hello"),
            ("parts joined, in order", [text_part("Hel"), text_part("lo")], "Hello"),
            ("non-text parts skipped", [image, text_part("Hi"), image], "Hi"),
            ("the string itself in text", [{"type": "text", "text": "plain"}], "plain"),
            ("null value skipped", [text_part(None), text_part("x")], "x"),
            ("null text skipped", [{"type": "text", "text": None}], ""),
            ("no content parts", [], ""),
            ("annotations are not text", [{"type": "text", "text": {"annotations": [1]}}], ""),
            ("a part that is not an object", ["stray", 5, text_part("ok")], "ok"),
        ]
        for label, content, expected in cases:
            with self.subTest(label):
                message = {"id": "msg_1", "object": "thread.message", "content": content}
                self.assertEqual(threadrun.message_text(message), expected)

    def test_plain_string_content(self) -> None:
        self.assertEqual(threadrun.message_text({"content": "just text"}), "just text")

    def test_errors_name_the_path(self) -> None:
        cases = [
            ("not an object", ["content"], None, "expected a message object, got array"),
            ("no content", {}, "content", "got null"),
            ("content a number", {"content": 3}, "content", "got integer 3"),
            ("value a number", {"content": [text_part(7)]}, "content[0]['text']['value']",
             "expected a string, got integer 7"),
            ("text a number", {"content": [IMAGE, {"type": "text", "text": 8}]},
             "content[1]['text']",
             "expected a string, got integer 8"),
        ]
        for label, message, field, words in cases:
            with self.subTest(label):
                with self.assertRaises(threadrun.ThreadRunError) as caught:
                    threadrun.message_text(message)  # type: ignore[arg-type]
                self.assertEqual(caught.exception.field, field)
                self.assertIn(words, str(caught.exception))


if __name__ == "__main__":
    unittest.main()
