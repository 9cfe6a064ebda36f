package cgw.replication;

import java.util.ArrayDeque;

/**
 * The arrays a shipper packs block bodies into, taken per body and given back once the replica
 * has answered for it: a megabyte body allocated anew each time is a humongous object for the
 * GC, hundreds of them per second at full speed. An array whose call failed is not given back
 * (the HTTP client may still be reading it); a new one replaces it. Threads: any.
 */
final class BodyBuffers {
    static final int BYTES = BlockBodies.MAX_BODY_BYTES;

    private final int kept;
    private final ArrayDeque<byte[]> free = new ArrayDeque<>();

    /** @param kept how many free arrays to keep at most */
    BodyBuffers(int kept) {
        this.kept = kept;
    }

    synchronized byte[] take() {
        byte[] array = free.pollFirst();
        return array != null ? array : new byte[BYTES];
    }

    synchronized void give(byte[] array) {
        if (array.length == BYTES && free.size() < kept) {
            free.addFirst(array);
        }
    }
}
