package cgw.host;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.util.Collection;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;

/**
 * A TLS context that trusts only the certificates of one PEM text, such as the gateway's own CA in
 * {@code DATA/tls/ca-cert.pem}. Host names are still checked, by the HTTP client. Stateless.
 */
public final class TrustedCa {
    private TrustedCa() {
    }

    /**
     * A context trusting the certificates in {@code pem}; {@code source} names where it came from
     * in the {@link IllegalArgumentException} thrown when it holds none.
     */
    public static SSLContext sslContext(byte[] pem, String source) {
        TrustManager[] trust = trustManagers(pem, source);
        try {
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(null, trust, null);
            return context;
        } catch (GeneralSecurityException e) {
            // the JDK always has TLS
            throw new IllegalStateException("cannot build a TLS context trusting " + source, e);
        }
    }

    /** The JDK's trust managers for the certificates in {@code pem}, as {@link #sslContext} uses them. */
    public static TrustManager[] trustManagers(byte[] pem, String source) {
        Collection<? extends Certificate> certificates;
        try {
            certificates = CertificateFactory.getInstance("X.509").generateCertificates(new ByteArrayInputStream(pem));
        } catch (CertificateException e) {
            throw new IllegalArgumentException(source + " does not hold a PEM certificate", e);
        }
        if (certificates.isEmpty()) {
            throw new IllegalArgumentException(source + " holds no certificate");
        }
        try {
            KeyStore trusted = KeyStore.getInstance(KeyStore.getDefaultType());
            trusted.load(null, null);
            int index = 0;
            for (Certificate certificate : certificates) {
                trusted.setCertificateEntry("ca-" + index++, certificate);
            }
            TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            trust.init(trusted);
            return trust.getTrustManagers();
        } catch (GeneralSecurityException | IOException e) {
            // the JDK always has these algorithms and an empty in-memory key store cannot fail to load
            throw new IllegalStateException("cannot build trust managers for " + source, e);
        }
    }
}
