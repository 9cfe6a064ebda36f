package cgw.tests.backup;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;

/** Reads what {@code cgw ... --json} printed. */
final class GatewayProcessJson {
    private static final ObjectMapper JSON = new ObjectMapper();

    private GatewayProcessJson() {
    }

    static JsonNode read(String stdout) throws IOException {
        return JSON.readTree(stdout);
    }
}
