"""The words each edition shows a reader, in its own language and script.

Owns: the few words of interface text per edition ("News", "Original", "Photo", the
machine-translation line, the reasons the program itself gives for a withdrawal …), the names
of languages and of editions as each edition writes them, and the site's title and
description in an edition (from `site.title` / `site.description`, derived into kk-Latn /
zh-Hant when only the base language is given). A leaf: publishing and partner feeds both word
their feeds, items and pages from here.
"""

from __future__ import annotations

from syndication.config import Config
from syndication.lang import base_language, derive_text

LANGUAGE_NAMES = {
    "kk": {"kk": "қазақ тілі", "zh": "қытай тілі", "en": "ағылшын тілі", "ru": "орыс тілі"},
    "zh": {"kk": "哈萨克语", "zh": "中文", "en": "英语", "ru": "俄语"},
    "en": {"kk": "Kazakh", "zh": "Chinese", "en": "English", "ru": "Russian"},
}
WORDS = {
    "kk": {
        "news": "Жаңалықтар",
        "translated": "Машиналық аударма. Түпнұсқа тілі: {language}.",
        "original": "Түпнұсқа",
        "source": "Дереккөз",
        "feeds": "Арналар",
        "sources": "Дереккөздер бойынша",
        "read": "Толығырақ",
        "photo": "Фото",
        "listen": "Тыңдау",
        "watch": "Көру",
        "download": "Жүктеп алу",
        "correction": "Түзету:",
        "withdrawn": "Бұл жаңалық жарияланымнан алынып тасталды.",
        "file_removed": "Жаңалықтың файлы жойылды.",
        "older": "Бұрынғы жаңалықтар",
        "newer": "Жаңарақ жаңалықтар",
        "latest": "Соңғы жаңалықтар",
        "archive": "мұрағат, {number}-бет",
        "subscribe": "Бұл жаңалықтарды арна оқырманында (RSS reader) оқу үшін мына "
        "мекенжайлардың бірін соған көшіріңіз:",
    },
    "zh": {
        "news": "新闻",
        "translated": "机器翻译。原文语言：{language}。",
        "original": "原文",
        "source": "来源",
        "feeds": "订阅源",
        "sources": "按来源",
        "read": "阅读全文",
        "photo": "图片",
        "listen": "收听",
        "watch": "观看",
        "download": "下载",
        "correction": "更正：",
        "withdrawn": "此新闻已撤回。",
        "file_removed": "此新闻的文件已被删除。",
        "older": "更早的新闻",
        "newer": "较新的新闻",
        "latest": "最新新闻",
        "archive": "存档第 {number} 页",
        "subscribe": "这是新闻订阅源。要在阅读器（RSS 阅读器）中订阅，请复制以下任一地址：",
    },
    "en": {
        "news": "News",
        "translated": "Machine-translated. Original language: {language}.",
        "original": "Original",
        "source": "Source",
        "feeds": "Feeds",
        "sources": "By source",
        "read": "Read more",
        "photo": "Photo",
        "listen": "Listen",
        "watch": "Watch",
        "download": "Download",
        "correction": "Correction:",
        "withdrawn": "This story has been withdrawn.",
        "file_removed": "Its file was removed.",
        "older": "Older stories",
        "newer": "Newer stories",
        "latest": "Latest stories",
        "archive": "archive, page {number}",
        "subscribe": "This is a news feed. To follow it in a feed reader, copy one of these "
        "addresses into it:",
    },
}
# The reasons the program itself records for a withdrawal (in English, as the store keeps
# them and `status` shows them), and the word each edition shows instead. Anyone else's reason
# (an operator's `--reason`, a file's `reason:`, a partner's tombstone comment) is shown as
# written.
SYSTEM_REASONS = {
    "its file was removed": "file_removed",  # syndication.store.articles.withdraw_missing
}
EDITION_NAMES = {
    "kk": "Қазақша",
    "kk-Latn": "Qazaqşa",
    "zh": "中文",
    "zh-Hant": "繁體中文",
    "en": "English",
}


def word(edition: str, key: str, **values: str) -> str:
    text = WORDS.get(base_language(edition), WORDS["en"])[key].format(**values)
    return derive_text(text, edition)


def withdrawal_reason(edition: str, reason: str) -> str:
    """Why a story was withdrawn, as `edition` shows it: a reason the program recorded in the
    edition's own words, anyone else's as written."""
    key = SYSTEM_REASONS.get(reason)
    return reason if key is None else word(edition, key)


def language_name(edition: str, language: str) -> str:
    names = LANGUAGE_NAMES.get(base_language(edition), LANGUAGE_NAMES["en"])
    return derive_text(names.get(language, language), edition)


def site_title(config: Config, edition: str) -> str:
    title = _configured(config.settings.site.title, edition)
    return word(edition, "news") if title is None else title


def site_description(config: Config, edition: str) -> str:
    description = _configured(config.settings.site.description, edition)
    return site_title(config, edition) if description is None else description


def _configured(texts: dict[str, str], edition: str) -> str | None:
    """The edition's own text from the YAML, else its base language's in the edition's script."""
    if edition in texts:
        return texts[edition]
    base = base_language(edition)
    if base in texts:
        return derive_text(texts[base], edition)
    return None
