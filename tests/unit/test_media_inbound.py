"""What each platform's message says about its attachments: only the platform's own ids are
kept (never a URL from the message), and the stored inbox row brings them back unchanged."""

from __future__ import annotations

from typing import Any

import orjson
from defusedxml.ElementTree import fromstring  # type: ignore[import-untyped]

from aibot.channels.dingtalk.inbound import attachments_of as dingtalk
from aibot.channels.feishu.inbound import attachments_of as feishu
from aibot.channels.telegram.inbound import attachments_of as telegram
from aibot.channels.telegram.media import _plain_path
from aibot.channels.wecom.inbound import attachments_of as wecom
from aibot.core.messages import Attachment, ReplyTarget
from aibot.store.rows import dump_target


def test_telegram_takes_the_largest_photo_and_typed_documents() -> None:
    photo = [
        {"file_id": "small", "width": 90, "height": 60},
        {"file_id": "big", "width": 1280, "height": 960, "file_size": 5000},
    ]
    (found,) = telegram({"photo": list(reversed(photo))})
    assert (found.kind, found.ref, found.size) == ("image", {"file_id": "big"}, 5000)
    (doc,) = telegram(
        {"document": {"file_id": "d", "mime_type": "image/png", "file_name": "a.png"}}
    )
    assert doc.kind == "image" and doc.name == "a.png"
    (voice,) = telegram({"voice": {"file_id": "v", "duration": 2}})
    assert voice.kind == "audio" and voice.mime == "audio/ogg"
    assert telegram({"sticker": {"file_id": "s", "is_animated": True}}) == ()
    assert telegram({"video": {"file_id": "x"}}) == ()


def test_telegram_file_paths_stay_on_the_file_endpoint() -> None:
    assert _plain_path("photos/file_12.jpg")
    for hostile in ("../bot1/getMe", "http://evil/x", "/etc/passwd", "a?b=c", "a b"):
        assert not _plain_path(hostile)


def feishu_message(kind: str, content: dict[str, Any]) -> dict[str, Any]:
    return {"message_id": "om_1", "message_type": kind, "content": orjson.dumps(content).decode()}


def test_feishu_images_of_a_post_and_files() -> None:
    post = {
        "zh_cn": {
            "title": "t",
            "content": [[{"tag": "text", "text": "看图"}, {"tag": "img", "image_key": "img_a"}]],
        }
    }
    (image,) = feishu(feishu_message("post", post))
    assert image.ref == {"message_id": "om_1", "file_key": "img_a", "type": "image"}
    (file,) = feishu(feishu_message("file", {"file_key": "file_x", "file_name": "r.pdf"}))
    assert file.kind == "file" and file.name == "r.pdf" and file.ref["type"] == "file"
    assert feishu(feishu_message("sticker", {"file_key": "s"})) == ()


def test_wecom_keeps_the_media_id_never_the_picture_url() -> None:
    xml = (
        "<xml><MsgType>image</MsgType><PicUrl>http://169.254.169.254/x</PicUrl>"
        "<MediaId>m1</MediaId></xml>"
    )
    (image,) = wecom(fromstring(xml), "image")
    assert image.ref == {"media_id": "m1"} and "169.254" not in str(image.to_json())
    voice = (
        "<xml><MsgType>voice</MsgType><MediaId>m2</MediaId><Format>amr</Format>"
        "<Recognition>你好</Recognition></xml>"
    )
    (heard,) = wecom(fromstring(voice), "voice")
    assert (heard.mime, heard.text) == ("audio/amr", "你好")


def test_dingtalk_recognition_and_rich_text() -> None:
    rich = {
        "msgtype": "richText",
        "content": {"richText": [{"text": "hi"}, {"type": "picture", "downloadCode": "c1"}]},
    }
    assert [a.ref for a in dingtalk(rich)] == [{"download_code": "c1"}]
    audio = {"msgtype": "audio", "content": {"downloadCode": "c2", "recognition": "开会"}}
    (voice,) = dingtalk(audio)
    assert voice.text == "开会"


def test_attachments_survive_the_inbox_row() -> None:
    from aibot.store.rows import _attachments, _load

    sent = (
        Attachment("image", {"file_id": "x"}, "image/jpeg", 12, "a.jpg"),
        Attachment("audio", {"download_code": "c"}, text="开会"),
    )
    stored = _load(dump_target(ReplyTarget(42, "private"), attachments=sent))
    assert _attachments(stored["_attachments"]) == sent
    assert Attachment.from_json({"kind": "video"}) is None
