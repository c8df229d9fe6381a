"""The refusal every needs rule raises: one sentence for the person who asked.

A refusal a console page can show is a :class:`NeedRefusal`, said from the catalog as
account refusals are: the CLI prints its English text, the console the signed-in
person's language."""

from __future__ import annotations

from texts.catalog import Language, catalog


class NeedError(ValueError):
    """A request the rules refuse; the message is one sentence for the person who asked."""

    def text(self, language: str) -> str:
        """The sentence in ``language``; a plain refusal has its English one only."""
        return str(self)


class NeedRefusal(NeedError):
    """A refusal from the catalog: a key (``need_error_...``) and its values, and the
    need it is about when one change of several was refused; ``str()`` is English."""

    def __init__(self, key: str, *, about: str = "", **values: object) -> None:
        self.key = key
        self.about = about
        self.values = values
        super().__init__(self.text(Language.EN))

    def text(self, language: str) -> str:
        sentence = catalog().render(self.key, language, **self.values)
        return f"{self.about}: {sentence}" if self.about else sentence

    def about_need(self, ref: str) -> NeedRefusal:
        """The same refusal, said to be about need ``ref``."""
        return NeedRefusal(self.key, about=ref, **self.values)
