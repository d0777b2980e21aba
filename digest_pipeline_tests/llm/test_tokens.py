"""Token counting, offline."""

from digest_pipeline.defs.llm import tokens
from digest_pipeline.defs.llm.tokens import TokenCounter, estimate_tokens


def test_token_counting_works_offline_without_tiktoken_files(tmp_path, monkeypatch):
    import tiktoken.load

    def no_network(*args, **kwargs):
        raise AssertionError("tried to download a tiktoken encoding")

    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(tiktoken.load, "read_file", no_network)
    counter = TokenCounter()
    assert counter.method == "estimate"
    assert counter.count("a" * 400) == 100
    assert counter.count("晶圆厂火灾") == 5
    assert counter.count("") == 0


def test_a_corrupt_tiktoken_cache_falls_back_to_the_estimate(tmp_path, monkeypatch):
    import tiktoken.load

    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(
        tiktoken.load, "read_file", lambda *a: (_ for _ in ()).throw(OSError("offline"))
    )
    (tmp_path / tokens._tiktoken_cache_path().rsplit("/", 1)[1]).write_bytes(b"not an encoding")
    counter = TokenCounter()
    assert counter.method == "estimate"
    assert counter.count("abcd" * 10) == estimate_tokens("abcd" * 10)
