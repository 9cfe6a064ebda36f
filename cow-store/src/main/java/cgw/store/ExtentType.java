package cgw.store;

/** What a range of a volume holds at one epoch, as NBD's {@code base:allocation} reports it. */
public enum ExtentType {
    /** Written data (it may still happen to be zeros). */
    DATA,
    /** Allocated, reads as zeros (write-zeroes, or data written as all zeros). */
    ZERO,
    /** Never written or trimmed: reads as zeros and holds no space. */
    HOLE;

    public boolean readsAsZeros() {
        return this != DATA;
    }
}
