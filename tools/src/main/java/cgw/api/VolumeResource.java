package cgw.api;

import cgw.barrier.GroupBarrier;
import cgw.store.BlockStore;
import cgw.store.Volume;
import cgw.store.VolumeInUseException;
import cgw.store.VolumeInfo;
import com.fasterxml.jackson.databind.JsonNode;
import io.netty.handler.codec.http.HttpMethod;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.ToIntFunction;

/**
 * {@code /v1/volumes}: create, list, show, limit to TLS clients ({@code PATCH}) and delete volumes. Its actions run on the store pool,
 * never on an event loop. It validates what the store cannot know (JSON shape, size syntax) and
 * leaves names and size limits to the store, whose refusals {@link ApiErrors} maps.
 */
final class VolumeResource {
    /**
     * The body of {@code POST /v1/volumes}; {@code size} is a number of bytes or a string like
     * "4GiB"; {@code clients}, optional, the TLS client names that may open it.
     */
    record CreateBody(String name, JsonNode size, List<String> clients) {
    }

    /** The body of {@code GET /v1/volumes}. */
    record VolumeList(List<VolumeView> volumes) {
    }

    private final BlockStore store;
    private final GroupBarrier barrier;
    private final ToIntFunction<String> attachments;
    private final VolumeClients clients;
    private final AllocatedBytes allocated;

    VolumeResource(BlockStore store, GroupBarrier barrier, ToIntFunction<String> attachments, VolumeClients clients) {
        this.store = store;
        this.barrier = barrier;
        this.attachments = attachments;
        this.clients = clients;
        this.allocated = new AllocatedBytes(store);
    }

    void addTo(Routes routes) {
        routes.addGuarded(HttpMethod.POST, "/v1/volumes", this::create)
                .addGuarded(HttpMethod.GET, "/v1/volumes", this::list)
                .addGuarded(HttpMethod.GET, "/v1/volumes/{name}", this::show)
                .addGuarded(HttpMethod.PATCH, "/v1/volumes/{name}", this::patch)
                .addGuarded(HttpMethod.DELETE, "/v1/volumes/{name}", this::delete);
    }

    private Reply create(ApiRequest request) throws IOException {
        CreateBody body = ApiJson.read(request.body(), CreateBody.class);
        if (body.name() == null) {
            throw new ApiException(ApiError.BAD_REQUEST, "field 'name' is required");
        }
        long sizeBytes = sizeBytes(body.size());
        if (body.clients() != null) {
            VolumeClients.check(body.clients()); // a bad name is refused before the volume exists
        }
        Volume volume = store.createVolume(body.name(), sizeBytes);
        if (body.clients() != null) {
            try {
                clients.set(volume, body.clients());
            } catch (RuntimeException e) {
                // never leave the volume open to every client when its list could not be kept
                barrier.deleteVolume(volume, () -> {
                });
                throw e;
            }
        }
        return Reply.created(view(store.info(volume)), "/v1/volumes/" + volume.name());
    }

    private Reply list(ApiRequest request) {
        return Reply.ok(new VolumeList(store.volumes().stream().map(this::view).toList()));
    }

    private Reply show(ApiRequest request) {
        return Reply.ok(view(store.info(store.volume(request.pathParam("name")))));
    }

    /** {@code PATCH /v1/volumes/{name}}: {@code {"clients": [...]}} limits who may open it, null lifts the limit. */
    private Reply patch(ApiRequest request) throws IOException {
        Volume volume = store.volume(request.pathParam("name"));
        JsonNode body = ApiJson.readTree(request.body());
        if (body == null || !body.isObject()) {
            throw new ApiException(ApiError.BAD_REQUEST, "the request body must be a JSON object, got " + body);
        }
        body.fieldNames().forEachRemaining(field -> {
            if (!field.equals("clients")) {
                throw new ApiException(ApiError.BAD_REQUEST, "unknown field '" + field + "'; a volume's 'clients'"
                        + " can be changed");
            }
        });
        JsonNode list = body.get("clients");
        if (list == null) {
            throw new ApiException(ApiError.BAD_REQUEST, "nothing to change: give 'clients'");
        }
        if (list.isNull()) {
            clients.set(volume, null);
        } else if (list.isArray()) {
            List<String> names = new ArrayList<>();
            for (JsonNode name : list) {
                if (!name.isTextual()) {
                    throw new ApiException(ApiError.BAD_REQUEST, "field 'clients' must list names, got " + name);
                }
                names.add(name.asText());
            }
            clients.set(volume, names);
        } else {
            throw new ApiException(ApiError.BAD_REQUEST,
                    "field 'clients' must be a list of names or null, got " + list);
        }
        return Reply.ok(view(store.info(volume)));
    }

    private VolumeView view(VolumeInfo info) {
        return VolumeView.of(info, allocated.of(info), barrier.groupOf(info.name()),
                attachments.applyAsInt(info.name()), clients.of(info));
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
        clients.forget(volume);
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
