package cgw.replication;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class CompressionLevelTest {
    private static final long MS = 1_000_000;

    @Test
    void aShipperThatWaitsOnTheLinkPacksHarderUpToTheTopLevel() {
        CompressionLevel level = new CompressionLevel();
        assertEquals(1, level.level());
        assertEquals(2, level.shipped(400 * MS, 300 * MS, 20 * MS));
        assertEquals(3, level.shipped(400 * MS, 300 * MS, 20 * MS));
        assertEquals(3, level.shipped(400 * MS, 300 * MS, 20 * MS));
    }

    @Test
    void aShipperThatNeverWaitsPacksFasterDownToTheBottomLevel() {
        CompressionLevel level = new CompressionLevel();
        int[] expected = {-1, -3, -5, -7, -7};
        for (int next : expected) {
            assertEquals(next, level.shipped(400 * MS, 0, 20 * MS));
        }
    }

    @Test
    void theRoundTripThatEndsEveryEpochIsNotCountedAsWaiting() {
        CompressionLevel level = new CompressionLevel();
        // 120 ms of waiting over a 100 ms round trip: 20 ms beyond it, 5% of the packing
        assertEquals(-1, level.shipped(400 * MS, 120 * MS, 100 * MS));
    }

    @Test
    void inBetweenTheLevelStays() {
        CompressionLevel level = new CompressionLevel();
        assertEquals(1, level.shipped(400 * MS, 60 * MS, 0));
    }

    @Test
    void anEpochOfAFewBlocksSaysNothing() {
        CompressionLevel level = new CompressionLevel();
        assertEquals(1, level.shipped(5 * MS, 500 * MS, 0));
        assertEquals(1, level.shipped(5 * MS, 0, 0));
    }

    @Test
    void aLongEpochAdaptsEveryWindowOfBodiesAndAgainAtItsEnd() {
        CompressionLevel level = new CompressionLevel();
        long now = 0;
        level.epochStarted(now);
        for (int body = 0; body < CompressionLevel.WINDOW_BODIES; body++) {
            now += 10 * MS; // packing only
            level.bodySent(now, 0);
        }
        assertEquals(-1, level.level());
        for (int body = 0; body < CompressionLevel.WINDOW_BODIES - 1; body++) {
            now += 10 * MS;
            level.bodySent(now, 0);
        }
        assertEquals(-1, level.level());
        now += 300 * MS; // the last answers: 20 ms round trip, the rest waiting on the link
        level.epochEnded(now, 300 * MS, 20 * MS);
        assertEquals(1, level.level());
    }
}
