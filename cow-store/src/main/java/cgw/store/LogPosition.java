package cgw.store;

/**
 * A point of the value log in the order its bytes were appended: segments by number, then bytes
 * within a segment. Everything before it is what {@link #covers} says.
 */
record LogPosition(int segment, long position) implements Comparable<LogPosition> {
    /** Before every byte of every log. */
    static final LogPosition START = new LogPosition(0, 0);

    /** Whether the byte at {@code position} of segment {@code segment} lies before this point. */
    boolean covers(int segment, long position) {
        return segment < this.segment || segment == this.segment && position < this.position;
    }

    @Override
    public int compareTo(LogPosition other) {
        int bySegment = Integer.compare(segment, other.segment);
        return bySegment != 0 ? bySegment : Long.compare(position, other.position);
    }

    @Override
    public String toString() {
        return "segment " + segment + " at " + position;
    }
}
