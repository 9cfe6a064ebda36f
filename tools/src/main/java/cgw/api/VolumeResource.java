package cgw.api;

import cgw.barrier.GroupBarrier;
import cgw.store.BlockStore;
import cgw.store.Volume;
import cgw.store.VolumeInUseException;
import com.fasterxml.jackson.databind.JsonNode;
import io.netty.handler.codec.http.HttpMethod;
import java.io.IOException;
import java.util.List;
import java.util.function.ToIntFunction;

/**
 * {@code /v1/volumes}: create, list, show and delete volumes. Its actions run on the store pool,
 * never on an event loop. It validates what the store cannot know (JSON shape, size syntax) and
 * leaves names and size limits to the store, whose refusals {@link ApiErrors} maps.
 */
final class VolumeResource {
    /** The body of {@code POST /v1/volumes}; {@code size} is a number of bytes or a string like "4GiB". */
    record CreateBody(String name, JsonNode size) {
    }

    /** The body of {@code GET /v1/volumes}. */
    record VolumeList(List<VolumeView> volumes) {
    }

    private final BlockStore store;
    private final GroupBarrier barrier;
    private final ToIntFunction<String> attachments;

    VolumeResource(BlockStore store, GroupBarrier barrier, ToIntFunction<String> attachments) {
        this.store = store;
        this.barrier = barrier;
        this.attachments = attachments;
    }

    void addTo(Routes routes) {
        routes.addGuarded(HttpMethod.POST, "/v1/volumes", this::create)
                .addGuarded(HttpMethod.GET, "/v1/volumes", this::list)
                .addGuarded(HttpMethod.GET, "/v1/volumes/{name}", this::show)
                .addGuarded(HttpMethod.DELETE, "/v1/volumes/{name}", this::delete);
    }

    private Reply create(ApiRequest request) throws IOException {
        CreateBody body = ApiJson.read(request.body(), CreateBody.class);
        if (body.name() == null) {
            throw new ApiException(ApiError.BAD_REQUEST, "field 'name' is required");
        }
        long sizeBytes = sizeBytes(body.size());
        Volume volume = store.createVolume(body.name(), sizeBytes);
        return Reply.created(VolumeView.of(store.info(volume)), "/v1/volumes/" + volume.name());
    }

    private Reply list(ApiRequest request) {
        return Reply.ok(new VolumeList(store.volumes().stream().map(VolumeView::of).toList()));
    }

    private Reply show(ApiRequest request) {
        return Reply.ok(VolumeView.of(store.info(store.volume(request.pathParam("name")))));
    }

    private Reply delete(ApiRequest request) {
        Volume volume = store.volume(request.pathParam("name"));
        barrier.deleteVolume(volume, () -> {
            int open = attachments.applyAsInt(volume.name());
            if (open > 0) {
                throw new VolumeInUseException("volume " + volume.name() + " has " + open
                        + " open NBD connection" + (open == 1 ? "" : "s") + "; disconnect first");
            }
        });
        return Reply.noContent();
    }

    /** A JSON whole number of bytes, or a string such as "4GiB" read by {@link ByteSize}. */
    private static long sizeBytes(JsonNode size) {
        if (size == null || size.isNull()) {
            throw new ApiException(ApiError.BAD_REQUEST, "field 'size' is required");
        }
        if (!size.isTextual() && !size.isIntegralNumber()) {
            throw new ApiException(ApiError.BAD_REQUEST,
                    "field 'size' must be a whole number of bytes or a string like \"4GiB\", got " + size);
        }
        String text = size.asText();
        try {
            return ByteSize.parseBytes(text);
        } catch (IllegalArgumentException e) {
            throw new ApiException(ApiError.BAD_REQUEST, "invalid size '" + text + "': " + e.getMessage());
        }
    }
}
