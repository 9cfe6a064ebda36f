package cgw.store;

/** A byte range of a volume and what it holds; adjacent extents of one answer differ in type. */
public record Extent(long offset, long length, ExtentType type) {
    public long end() {
        return offset + length;
    }
}
