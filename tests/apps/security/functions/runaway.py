"""Functions that never finish on their own: pure computation with no database call to stop at."""

from runtime import mutation, query


@query(args={})
async def spin(ctx, args):
    """Loop forever."""
    while True:
        pass


@query(args={})
async def spin_catching(ctx, args):
    """Loop forever, swallowing every ordinary exception."""
    while True:
        try:
            while True:
                pass
        except Exception:  # noqa: BLE001 - the point of the test
            pass


@mutation(args={})
async def write_then_spin(ctx, args):
    """Write a note, then loop forever: the write must not survive."""
    await ctx.db.insert("notes", {"owner": "runaway", "text": "half-done"})
    while True:
        pass
