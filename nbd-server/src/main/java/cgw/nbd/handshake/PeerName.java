package cgw.nbd.handshake;

import io.netty.channel.ChannelPipeline;
import io.netty.handler.ssl.SslHandler;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;
import javax.net.ssl.SSLPeerUnverifiedException;
import org.jspecify.annotations.Nullable;

/**
 * The name a client proves with its TLS certificate: the CN of the certificate's subject (the
 * server requires one issued by its CA). Null on a connection without TLS or before its
 * handshake completed.
 */
final class PeerName {
    private PeerName() {
    }

    static @Nullable String of(ChannelPipeline pipeline) {
        SslHandler ssl = pipeline.get(SslHandler.class);
        if (ssl == null || !ssl.handshakeFuture().isSuccess()) {
            return null;
        }
        try {
            Certificate[] chain = ssl.engine().getSession().getPeerCertificates();
            if (chain.length == 0 || !(chain[0] instanceof X509Certificate certificate)) {
                return null;
            }
            return commonName(certificate.getSubjectX500Principal().getName());
        } catch (SSLPeerUnverifiedException e) {
            return null;
        }
    }

    /** The (last) CN of an RFC 2253 distinguished name, or null when it has none. */
    static @Nullable String commonName(String distinguishedName) {
        try {
            String name = null;
            for (Rdn rdn : new LdapName(distinguishedName).getRdns()) { // most significant last
                if (rdn.getType().equalsIgnoreCase("CN")) {
                    name = String.valueOf(rdn.getValue());
                }
            }
            return name;
        } catch (InvalidNameException e) {
            return null;
        }
    }
}
