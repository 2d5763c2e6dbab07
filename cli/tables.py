"""Tables that fit the width they are drawn at: columns are chosen, cells are never cut.

Too wide a rich table is squeezed by cutting cells and headers to "…": `12.34%` becomes
`12.…` and `params` becomes `para…`, and a number cut short reads as another number. A
`Fitted` table is built when it is drawn, knowing the width: it tries short headers, then
leaves out the least needed columns one by one until the rest fit whole, and says which it
left out. Only text that may fold onto more lines (a failure's reason) is ever narrowed.
"""
from __future__ import annotations

from dataclasses import dataclass

from rich.measure import Measurement
from rich.table import Table

WRAP_FLOOR = 20  # the room a column of folding text keeps when the others take the rest
_BIG = 10_000  # a width nothing here reaches: measures a table's natural width


@dataclass(frozen=True)
class Column:
    header: str
    cells: tuple  # one per row: text, or a renderable of fixed width (a progress bar)
    short: str | None = None  # a shorter header, tried before any column is left out
    drop: int = 0  # 0: always shown; the highest is left out first
    wrap: bool = False  # text that may fold onto more lines; never a number
    justify: str = "left"


class Fitted:
    """A rich renderable: the table of `columns` (with Table's keyword arguments) that fits
    the width it is given."""

    def __init__(self, columns: list[Column], **table_kw):
        self.columns = columns
        self.table_kw = table_kw

    def __rich_console__(self, console, options):
        yield self.fit(console, options)

    def __rich_measure__(self, console, options):
        return Measurement.get(console, options, self.fit(console, options))

    def fit(self, console, options) -> Table:
        """The first candidate that fits: every column, then short headers, then fewer."""
        kept = list(self.columns)
        candidates = [(kept, False)]
        while True:
            candidates.append((kept, True))
            droppable = [c for c in kept if c.drop]
            if not droppable:
                break
            worst = max(droppable, key=lambda c: c.drop)
            kept = [c for c in kept if c is not worst]
        for cols, short in candidates:
            probe = self._table(cols, short, probe=True)
            if Measurement.get(console, options.update_width(_BIG), probe).maximum \
                    <= options.max_width:
                break
        return self._table(cols, short)

    def _table(self, cols: list[Column], short: bool, probe: bool = False) -> Table:
        kw = dict(self.table_kw)
        left_out = [c.header for c in self.columns if c not in cols]
        if left_out and not probe:
            note = f"left out at this width (a wider terminal shows them): {', '.join(left_out)}"
            kw["caption"] = f"{kw['caption']}\n{note}" if kw.get("caption") else note
        t = Table(**kw)
        for c in cols:
            t.add_column(c.short if short and c.short else c.header, no_wrap=not c.wrap,
                         justify=c.justify)
        for row in zip(*(c.cells for c in cols)):
            t.add_row(*("x" * min(WRAP_FLOOR, len(str(cell))) if probe and c.wrap else cell
                        for c, cell in zip(cols, row)))
        return t
