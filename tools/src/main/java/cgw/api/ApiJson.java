package cgw.api;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.cfg.CoercionAction;
import com.fasterxml.jackson.databind.cfg.CoercionInputShape;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.type.LogicalType;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The one JSON mapper of the API, strict on input: unknown fields, duplicate keys, content after
 * the value and scalars of the wrong type (a number where a string belongs) are errors, never
 * silently coerced. Immutable once built, so any thread may use it.
 */
final class ApiJson {
    private static final JsonMapper MAPPER = strict(JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
            .build());

    /** No scalar becomes a string or a number by coercion: {@code "name": 5} is refused. */
    private static JsonMapper strict(JsonMapper mapper) {
        for (LogicalType type : List.of(LogicalType.Textual, LogicalType.Integer, LogicalType.Float,
                LogicalType.Boolean)) {
            mapper.coercionConfigFor(type)
                    .setCoercion(CoercionInputShape.Integer, CoercionAction.Fail)
                    .setCoercion(CoercionInputShape.Float, CoercionAction.Fail)
                    .setCoercion(CoercionInputShape.Boolean, CoercionAction.Fail)
                    .setCoercion(CoercionInputShape.String, CoercionAction.Fail);
        }
        return mapper;
    }

    private ApiJson() {
    }

    /** Reads a request body; Jackson's exceptions reach {@link ApiErrors}, which answers 400. */
    static <T> T read(byte[] body, Class<T> type) throws IOException {
        if (body.length == 0) {
            throw new ApiException(ApiError.BAD_REQUEST, "the request body is empty; expected a JSON object");
        }
        String text;
        try {
            // JSON between systems is UTF-8 (RFC 8259); Jackson would guess UTF-16 or UTF-32 from zero bytes
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(body)).toString();
        } catch (CharacterCodingException e) {
            throw new ApiException(ApiError.BAD_REQUEST, "the request body is not UTF-8 text");
        }
        try (JsonParser parser = MAPPER.createParser(text)) {
            T value = MAPPER.readValue(parser, type);
            if (value == null || value instanceof JsonNode node && node.isNull()) {
                throw new ApiException(ApiError.BAD_REQUEST, "the request body is JSON null; expected a JSON object");
            }
            if (parser.nextToken() != null) {
                throw new ApiException(ApiError.BAD_REQUEST,
                        "malformed JSON: more content after the JSON value at column "
                                + parser.currentTokenLocation().getColumnNr());
            }
            return value;
        }
    }

    /** A JSON value as a tree, for bodies where a field's absence and its null differ, and stored records. */
    static JsonNode readTree(byte[] body) throws IOException {
        return read(body, JsonNode.class);
    }

    static byte[] write(Object value) {
        try {
            return MAPPER.writeValueAsBytes(value);
        } catch (JsonProcessingException e) {
            // our own reply types always serialise; failing here is a bug in them
            throw new UncheckedIOException("cannot write " + value.getClass().getSimpleName() + " as JSON", e);
        }
    }
}
