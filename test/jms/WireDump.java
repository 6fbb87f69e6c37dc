// Writes OpenWire frames marshalled by the real ActiveMQ client (OpenWireFormat v12) to a directory, one file
// per sample command, for test/jms/openwire-golden.test.ts to decode and re-encode. Loose frames go to
// <dir>/<name>.bin, tight-encoded ones (for the size comparison only) to <dir>/tight/<name>.bin; the samples
// whose throwables carry stack traces go to <dir>/stack/<name>.bin. The field values here are asserted there.
import java.io.File;
import java.nio.file.Files;
import java.util.LinkedHashMap;
import java.util.Map;
import javax.transaction.xa.Xid;
import org.apache.activemq.command.*;
import org.apache.activemq.openwire.OpenWireFormat;
import org.apache.activemq.openwire.OpenWireFormatFactory;
import org.apache.activemq.util.ByteSequence;

public class WireDump {
    static final ConnectionId CONN = new ConnectionId("ID:golden-host-40000-1700000000000-1:1");
    static final SessionId SESSION = new SessionId(CONN, 1);
    static final ConsumerId CONSUMER = new ConsumerId(SESSION, 2);
    static final ProducerId PRODUCER = new ProducerId(SESSION, 3);
    static final ActiveMQQueue QUEUE = new ActiveMQQueue("orders.in");

    static MessageId messageId(long seq) {
        MessageId id = new MessageId(PRODUCER, seq);
        id.setBrokerSequenceId(99);
        return id;
    }

    static <T extends ActiveMQMessage> T fill(T m, long seq) throws Exception {
        m.setCommandId(7);
        m.setResponseRequired(true);
        m.setProducerId(PRODUCER);
        m.setDestination(QUEUE);
        m.setMessageId(messageId(seq));
        m.setPersistent(true);
        m.setPriority((byte) 4);
        m.setTimestamp(1700000000123L);
        m.setExpiration(0);
        m.setCorrelationId("corr-1");
        m.setType("golden");
        m.setReplyTo(new ActiveMQTempQueue("ID:golden-host-40000-1700000000000-1:1:1"));
        m.setStringProperty("s", "v\u00e9");
        m.setIntProperty("i", 42);
        m.setLongProperty("l", 1L << 40);
        m.setBooleanProperty("b", true);
        m.setDoubleProperty("d", 2.5);
        m.setFloatProperty("f", 1.25f);
        m.setByteProperty("y", (byte) -3);
        m.setShortProperty("h", (short) 300);
        return m;
    }

    static final class GoldenXid implements Xid {
        public int getFormatId() { return 17; }
        public byte[] getGlobalTransactionId() { return new byte[] {1, 2, 3}; }
        public byte[] getBranchQualifier() { return new byte[] {9}; }
    }

    static Map<String, Object> samples() throws Exception {
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("wireformat", ((OpenWireFormat) new OpenWireFormatFactory().createWireFormat()).getPreferedWireFormatInfo());

        ConnectionInfo ci = new ConnectionInfo(CONN);
        ci.setCommandId(1);
        ci.setResponseRequired(true);
        ci.setClientId("golden-client");
        ci.setUserName("user");
        ci.setPassword("secret");
        s.put("connection-info", ci);

        SessionInfo si = new SessionInfo(SESSION);
        si.setCommandId(2);
        s.put("session-info", si);

        ConsumerInfo cons = new ConsumerInfo(CONSUMER);
        cons.setCommandId(3);
        cons.setResponseRequired(true);
        cons.setDestination(QUEUE);
        cons.setPrefetchSize(1000);
        cons.setSelector("color = 'red'");
        cons.setPriority((byte) 0);
        s.put("consumer-info", cons);

        ProducerInfo pi = new ProducerInfo(PRODUCER);
        pi.setCommandId(4);
        pi.setDestination(new ActiveMQTopic("news.>"));
        pi.setWindowSize(65536);
        s.put("producer-info", pi);

        ActiveMQTextMessage text = fill(new ActiveMQTextMessage(), 1);
        text.setText("h\u00e9llo \u2603 \ud834\udd1e and a NUL \u0000");
        s.put("text-message", text);

        ActiveMQBytesMessage bytes = fill(new ActiveMQBytesMessage(), 2);
        bytes.writeBytes(new byte[] {0, 1, 2, (byte) 255});
        bytes.writeInt(0x01020304);
        bytes.storeContent();
        s.put("bytes-message", bytes);

        ActiveMQMapMessage map = fill(new ActiveMQMapMessage(), 3);
        map.setString("name", "widget");
        map.setInt("count", 12);
        map.setBytes("raw", new byte[] {7, 8});
        map.setBoolean("ok", false);
        map.setChar("c", 'x');
        map.setLong("big", Long.MIN_VALUE);
        s.put("map-message", map);

        ActiveMQStreamMessage stream = fill(new ActiveMQStreamMessage(), 4);
        stream.writeString("first");
        stream.writeInt(-1);
        stream.writeBoolean(true);
        stream.writeChar('q');
        stream.writeBytes(new byte[] {5});
        stream.writeLong(123456789012345L);
        stream.writeDouble(-0.5);
        stream.writeObject(null);
        stream.storeContent();
        s.put("stream-message", stream);

        ActiveMQObjectMessage obj = fill(new ActiveMQObjectMessage(), 5);
        obj.setObject("a serialized string");
        s.put("object-message", obj);

        ActiveMQMessage plain = fill(new ActiveMQMessage(), 6);
        s.put("plain-message", plain);

        MessageDispatch md = new MessageDispatch();
        md.setCommandId(8);
        md.setConsumerId(CONSUMER);
        md.setDestination(QUEUE);
        md.setMessage(fill(new ActiveMQTextMessage(), 9));
        ((ActiveMQTextMessage) md.getMessage()).setText("dispatched");
        md.setRedeliveryCounter(2);
        s.put("message-dispatch", md);

        MessageAck ack = new MessageAck();
        ack.setCommandId(9);
        ack.setAckType(MessageAck.STANDARD_ACK_TYPE);
        ack.setConsumerId(CONSUMER);
        ack.setDestination(QUEUE);
        ack.setTransactionId(new LocalTransactionId(CONN, 5));
        ack.setFirstMessageId(messageId(1));
        ack.setLastMessageId(messageId(3));
        ack.setMessageCount(3);
        s.put("message-ack", ack);

        MessageAck poison = new MessageAck();
        poison.setCommandId(10);
        poison.setAckType(MessageAck.POISON_ACK_TYPE);
        poison.setConsumerId(CONSUMER);
        poison.setDestination(QUEUE);
        poison.setFirstMessageId(messageId(4));
        poison.setLastMessageId(messageId(4));
        poison.setMessageCount(1);
        poison.setPoisonCause(new IllegalStateException("redelivery limit"));
        s.put("poison-ack", poison);

        MessagePull pull = new MessagePull();
        pull.setCommandId(11);
        pull.setConsumerId(CONSUMER);
        pull.setDestination(QUEUE);
        pull.setTimeout(5000);
        s.put("message-pull", pull);

        RemoveInfo ri = new RemoveInfo(CONSUMER);
        ri.setCommandId(12);
        ri.setLastDeliveredSequenceId(77);
        s.put("remove-info", ri);

        RemoveSubscriptionInfo rsi = new RemoveSubscriptionInfo();
        rsi.setConnectionId(CONN);
        rsi.setClientId("golden-client");
        rsi.setSubcriptionName("durable-1");
        s.put("remove-subscription-info", rsi);

        DestinationInfo di = new DestinationInfo(CONN, DestinationInfo.ADD_OPERATION_TYPE,
            new ActiveMQTempTopic("ID:golden-host-40000-1700000000000-1:1:2"));
        di.setCommandId(13);
        s.put("destination-info", di);

        TransactionInfo tx = new TransactionInfo(CONN, new LocalTransactionId(CONN, 5), TransactionInfo.COMMIT_ONE_PHASE);
        tx.setCommandId(14);
        s.put("transaction-info", tx);

        TransactionInfo xa = new TransactionInfo(CONN, new XATransactionId(new GoldenXid()), TransactionInfo.PREPARE);
        xa.setCommandId(15);
        s.put("xa-transaction-info", xa);

        ProducerAck pa = new ProducerAck(PRODUCER, 1024);
        s.put("producer-ack", pa);
        s.put("keep-alive", new KeepAliveInfo());
        s.put("shutdown-info", new ShutdownInfo());

        ConnectionControl cc = new ConnectionControl();
        cc.setFaultTolerant(true);
        cc.setReconnectTo("tcp://127.0.0.1:61617");
        cc.setToken(new byte[] {4, 2});
        s.put("connection-control", cc);

        ConsumerControl cctl = new ConsumerControl();
        cctl.setConsumerId(CONSUMER);
        cctl.setDestination(QUEUE);
        cctl.setPrefetch(10);
        cctl.setStart(true);
        s.put("consumer-control", cctl);

        ConnectionError ce = new ConnectionError();
        ce.setConnectionId(CONN);
        ce.setException(new SecurityException("User name [x] or password is invalid."));
        s.put("connection-error", ce);

        Response r = new Response();
        r.setCorrelationId(3);
        s.put("response", r);

        ExceptionResponse er = new ExceptionResponse(new javax.jms.InvalidDestinationException("no such queue"));
        er.setCorrelationId(4);
        s.put("exception-response", er);

        DataResponse dr = new DataResponse();
        dr.setCorrelationId(5);
        dr.setData(QUEUE);
        s.put("data-response", dr);

        IntegerResponse ir = new IntegerResponse(6);
        ir.setCorrelationId(6);
        s.put("integer-response", ir);

        BrokerInfo bi = new BrokerInfo();
        bi.setBrokerId(new BrokerId("ID:golden-broker-1"));
        bi.setBrokerName("golden");
        bi.setBrokerURL("tcp://127.0.0.1:61616");
        bi.setFaultTolerantConfiguration(true);
        s.put("broker-info", bi);
        return s;
    }

    static void dump(File dir, Map<String, Object> samples, boolean tight, boolean stack) throws Exception {
        dir.mkdirs();
        OpenWireFormat f = new OpenWireFormat(12);
        f.setTightEncodingEnabled(tight);
        f.setStackTraceEnabled(stack);
        for (Map.Entry<String, Object> e : samples.entrySet()) {
            ByteSequence b = f.marshal(e.getValue());
            byte[] frame = java.util.Arrays.copyOfRange(b.getData(), b.getOffset(), b.getOffset() + b.getLength());
            Files.write(new File(dir, e.getKey() + ".bin").toPath(), frame);
        }
    }

    public static void main(String[] args) throws Exception {
        File out = new File(args[0]);
        // Each format gets fresh samples: marshalling a message stores its body and properties in place.
        dump(out, samples(), false, false);
        dump(new File(out, "tight"), samples(), true, false);
        Map<String, Object> withStacks = new LinkedHashMap<>();
        Map<String, Object> all = samples();
        for (String k : new String[] {"poison-ack", "connection-error", "exception-response"}) withStacks.put(k, all.get(k));
        dump(new File(out, "stack"), withStacks, false, true);
    }
}
