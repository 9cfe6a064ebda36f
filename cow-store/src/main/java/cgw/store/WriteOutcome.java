package cgw.store;

/**
 * What became of a whole data block a write sent to the value log: overwritten in place, or
 * appended, and why ({@link BlockStore#blocksWritten}). Appends where overwrites were possible
 * cost disk space until the cleaner takes the old copies back, and a rewrite that appends runs
 * slower than one that overwrites, so operators see the split.
 */
public enum WriteOutcome {
    /** Overwritten where its previous version in the head epoch is. */
    IN_PLACE,
    /** Appended: the head epoch held no version of it in the log (a first write, or after a snapshot). */
    APPENDED_NEW,
    /** Appended: its previous version is in a run shorter than 64 KiB (or the write is). */
    APPENDED_SHORT_RUN,
    /**
     * Appended: its previous version may not be overwritten yet: flushed and not yet durable, or its
     * range could not be recorded ({@code FlushedOverwrites} full of ranges no flush covered yet).
     */
    APPENDED_FENCED,
    /** Appended: its previous version is in a segment the cleaner is copying. */
    APPENDED_CLEANING,
    /** Appended: no overwrite was possible (a sealed epoch, a replica's apply, or overwrites off). */
    APPENDED_ALWAYS
}
