"""Text preparation: what leaves the pipeline, and the hash that keys its cached answer."""

from digest_pipeline.defs.llm.text import input_hash, prepare_text


def test_prepare_text_redacts_and_sends_user_ids_not_names():
    text = "@Alice Chen mail dana@acme.com, key sk-proj-abcdefghijklmnopqrstuvwxyz123456"
    sent = prepare_text(text, [("Alice Chen", "U01ALICE")])
    assert sent.startswith("@U01ALICE ")
    assert "dana@acme.com" not in sent and "[email]" in sent
    assert "sk-proj" not in sent and "[secret]" in sent


def test_the_input_hash_changes_with_text_channel_or_parent():
    base = input_hash("a", "ops", None)
    assert base == input_hash("a", "ops", None)
    assert len({base, input_hash("b", "ops", None), input_hash("a", "qa", None)}) == 3
    assert input_hash("a", "ops", "p") != base
