package cgw.store.crash;

import java.nio.ByteBuffer;

/**
 * The bytes a DATA operation writes: a hash of its sequence number and the absolute volume
 * position of each byte. So any run of bytes names the one write that produced it (two writes
 * agree on a byte with odds 1/255), a write torn at any byte shows as a run matching nobody, and
 * the checker recomputes the content from the journal alone. Never zero, so data and zeroing
 * operations are told apart.
 */
final class OpContent {
    private OpContent() {
    }

    static byte byteAt(long seq, long position) {
        long word = mix(seq * 0x9E3779B97F4A7C15L ^ (position >>> 3));
        byte b = (byte) (word >>> ((position & 7) * 8));
        return b == 0 ? (byte) 0x5A : b;
    }

    /** Fills {@code dst} from its position to its limit with the content at {@code position}; moves nothing. */
    static void fill(long seq, long position, ByteBuffer dst) {
        for (int i = dst.position(); i < dst.limit(); i++) {
            dst.put(i, byteAt(seq, position + i - dst.position()));
        }
    }

    /** Whether {@code volume[from, to)} holds the content of {@code seq}. */
    static boolean matches(long seq, byte[] volume, int from, int to) {
        for (int p = from; p < to; p++) {
            if (volume[p] != byteAt(seq, p)) {
                return false;
            }
        }
        return true;
    }

    /** SplitMix64's finaliser: every input bit flips about half the output bits. */
    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
