// JMS behaviour against an sfbroker OpenWire connector, with the ActiveMQ 5.17 client. Usage:
//   java JmsSuite tcp://127.0.0.1:PORT scenario...
// Prints "PASS <scenario>" or "FAIL <scenario>: <reason>" per scenario; every scenario uses its own destinations.
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.jms.*;
import org.apache.activemq.ActiveMQConnectionFactory;
import org.apache.activemq.ActiveMQSession;

public class JmsSuite {
  static String url;

  static void check(boolean ok, String what) {
    if (!ok) throw new AssertionError(what);
  }

  static Connection open(String params, String clientId) throws JMSException {
    ActiveMQConnectionFactory f = new ActiveMQConnectionFactory(url + (params.isEmpty() ? "" : "?" + params));
    // The client refuses to deserialise ObjectMessage bodies of untrusted packages (as against ActiveMQ itself).
    f.setTrustedPackages(List.of("java.util", "java.lang"));
    Connection c = f.createConnection();
    if (clientId != null) c.setClientID(clientId);
    c.start();
    return c;
  }

  static Connection open() throws JMSException {
    return open("", null);
  }

  public static void main(String[] args) throws Exception {
    url = args[0];
    int failed = 0;
    for (int i = 1; i < args.length; i++) {
      String name = args[i];
      try {
        JmsSuite.class.getDeclaredMethod(name).invoke(null);
        System.out.println("PASS " + name);
      } catch (java.lang.reflect.InvocationTargetException e) {
        failed++;
        Throwable t = e.getCause();
        System.out.println("FAIL " + name + ": " + t.getClass().getName() + ": " + t.getMessage());
        t.printStackTrace();
      }
      System.out.flush();
    }
    System.exit(failed == 0 ? 0 : 1);
  }

  static void types() throws Exception {
    Connection c = open();
    Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
    Queue q = s.createQueue("jms.types");
    MessageProducer p = s.createProducer(q);
    p.send(s.createTextMessage("héllo"));
    BytesMessage b = s.createBytesMessage();
    b.writeBytes(new byte[] {1, 2, 0, 3});
    p.send(b);
    MapMessage m = s.createMapMessage();
    m.setInt("i", 5);
    m.setString("s", "x");
    p.send(m);
    StreamMessage st = s.createStreamMessage();
    st.writeLong(7L);
    st.writeString("y");
    p.send(st);
    p.send(s.createObjectMessage((Serializable) new ArrayList<>(List.of("a", "b"))));
    p.send(s.createMessage());
    MessageConsumer mc = s.createConsumer(q);
    check("héllo".equals(((TextMessage) mc.receive(5000)).getText()), "text");
    BytesMessage rb = (BytesMessage) mc.receive(5000);
    byte[] got = new byte[4];
    check(rb.readBytes(got) == 4 && got[2] == 0 && got[3] == 3, "bytes");
    MapMessage rm = (MapMessage) mc.receive(5000);
    check(rm.getInt("i") == 5 && "x".equals(rm.getString("s")), "map");
    StreamMessage rs = (StreamMessage) mc.receive(5000);
    check(rs.readLong() == 7L && "y".equals(rs.readString()), "stream");
    ObjectMessage ro = (ObjectMessage) mc.receive(5000);
    check(ro.getObject().equals(List.of("a", "b")), "object");
    Message plain = mc.receive(5000);
    check(plain != null && !(plain instanceof TextMessage), "plain message");
    c.close();
  }

  static void properties() throws Exception {
    Connection c = open();
    Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
    Queue q = s.createQueue("jms.props");
    Message m = s.createTextMessage("p");
    m.setStringProperty("s", "str");
    m.setBooleanProperty("b", true);
    m.setByteProperty("y", (byte) -3);
    m.setShortProperty("h", (short) 300);
    m.setIntProperty("i", 70000);
    m.setLongProperty("l", 1L << 40);
    m.setFloatProperty("f", 1.5f);
    m.setDoubleProperty("d", 2.25);
    m.setJMSCorrelationID("corr");
    m.setJMSType("kind");
    s.createProducer(q).send(m);
    Message r = s.createConsumer(q).receive(5000);
    check(r.getObjectProperty("s").equals("str"), "string");
    check(r.getObjectProperty("b").equals(Boolean.TRUE), "boolean");
    check(r.getObjectProperty("y").equals((byte) -3), "byte");
    check(r.getObjectProperty("h").equals((short) 300), "short");
    check(r.getObjectProperty("i").equals(70000), "int");
    check(r.getObjectProperty("l").equals(1L << 40), "long");
    check(r.getObjectProperty("f").equals(1.5f), "float");
    check(r.getObjectProperty("d").equals(2.25), "double");
    check("corr".equals(r.getJMSCorrelationID()) && "kind".equals(r.getJMSType()), "headers");
    check(r.getIntProperty("JMSXDeliveryCount") == 1 && !r.getJMSRedelivered(), "delivery count");
    c.close();
  }

  static void selectors() throws Exception {
    Connection c = open();
    Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
    Queue q = s.createQueue("jms.sel");
    MessageConsumer red = s.createConsumer(q, "color = 'red' AND n > 1");
    MessageProducer p = s.createProducer(q);
    for (int i = 0; i < 4; i++) {
      Message m = s.createTextMessage("m" + i);
      m.setStringProperty("color", i % 2 == 0 ? "red" : "blue");
      m.setIntProperty("n", i);
      p.send(m);
    }
    TextMessage got = (TextMessage) red.receive(5000);
    check(got != null && got.getText().equals("m2"), "red n>1 is m2, got " + (got == null ? null : got.getText()));
    check(red.receive(300) == null, "only one match");
    c.close();
  }

  static void topics() throws Exception {
    Connection c = open();
    Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
    Topic t = s.createTopic("jms.topic");
    MessageConsumer a = s.createConsumer(t);
    MessageConsumer b = s.createConsumer(s.createTopic("jms.>"));
    MessageConsumer star = s.createConsumer(s.createTopic("jms.*"));
    MessageConsumer deep = s.createConsumer(s.createTopic("jms.*.leaf"));
    s.createProducer(t).send(s.createTextMessage("fan"));
    s.createProducer(s.createTopic("jms.mid.leaf")).send(s.createTextMessage("leaf"));
    check(((TextMessage) a.receive(5000)).getText().equals("fan"), "a");
    check(((TextMessage) b.receive(5000)).getText().equals("fan"), "wildcard > gets fan");
    check(((TextMessage) b.receive(5000)).getText().equals("leaf"), "wildcard > gets leaf");
    check(((TextMessage) star.receive(5000)).getText().equals("fan"), "wildcard * gets fan");
    check(star.receive(300) == null, "wildcard * does not match two levels");
    check(((TextMessage) deep.receive(5000)).getText().equals("leaf"), "jms.*.leaf gets leaf");
    c.close();
  }

  static void durable() throws Exception {
    Connection c = open("", "jms-durable");
    Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
    Topic t = s.createTopic("jms.durable");
    s.createDurableSubscriber(t, "sub").close();
    s.createProducer(t).send(s.createTextMessage("missed"));
    c.close();
    Connection c2 = open("", "jms-durable");
    Session s2 = c2.createSession(false, Session.AUTO_ACKNOWLEDGE);
    TopicSubscriber d = s2.createDurableSubscriber(s2.createTopic("jms.durable"), "sub");
    TextMessage m = (TextMessage) d.receive(5000);
    check(m != null && m.getText().equals("missed"), "missed message after coming back");
    d.close();
    s2.unsubscribe("sub");
    c2.close();
  }

  static void clientAck() throws Exception {
    Connection c = open();
    Session s = c.createSession(false, Session.CLIENT_ACKNOWLEDGE);
    Queue q = s.createQueue("jms.clientack");
    MessageProducer p = s.createProducer(q);
    for (int i = 0; i < 3; i++) p.send(s.createTextMessage("c" + i));
    MessageConsumer mc = s.createConsumer(q);
    mc.receive(5000);
    Message second = mc.receive(5000);
    second.acknowledge();
    Message third = mc.receive(5000);
    check(third != null, "third");
    s.close();
    Session s2 = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
    TextMessage again = (TextMessage) s2.createConsumer(q).receive(5000);
    check(again != null && again.getText().equals("c2") && again.getJMSRedelivered(), "unacked c2 redelivered");
    c.close();
  }

  static void individualAck() throws Exception {
    Connection c = open();
    Session s = c.createSession(false, ActiveMQSession.INDIVIDUAL_ACKNOWLEDGE);
    Queue q = s.createQueue("jms.indack");
    MessageProducer p = s.createProducer(q);
    p.send(s.createTextMessage("i0"));
    p.send(s.createTextMessage("i1"));
    MessageConsumer mc = s.createConsumer(q);
    mc.receive(5000);
    mc.receive(5000).acknowledge();
    s.close();
    Session s2 = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
    MessageConsumer mc2 = s2.createConsumer(q);
    TextMessage again = (TextMessage) mc2.receive(5000);
    check(again != null && again.getText().equals("i0"), "i0 back");
    check(mc2.receive(300) == null, "i1 was acked");
    c.close();
  }

  static void transactions() throws Exception {
    Connection c = open();
    Session tx = c.createSession(true, Session.SESSION_TRANSACTED);
    Queue q = tx.createQueue("jms.tx");
    MessageProducer p = tx.createProducer(q);
    p.send(tx.createTextMessage("rolled"));
    tx.rollback();
    p.send(tx.createTextMessage("kept"));
    tx.commit();
    MessageConsumer mc = tx.createConsumer(q);
    TextMessage m = (TextMessage) mc.receive(5000);
    check(m.getText().equals("kept") && !m.getJMSRedelivered(), "kept first");
    tx.rollback();
    TextMessage again = (TextMessage) mc.receive(5000);
    check(again.getText().equals("kept") && again.getJMSRedelivered(), "redelivered after rollback");
    check(again.getIntProperty("JMSXDeliveryCount") == 2, "delivery count 2");
    tx.commit();
    check(mc.receive(300) == null, "nothing left");
    c.close();
  }

  static void tempReply() throws Exception {
    Connection req = open();
    Connection rep = open();
    Session rs = rep.createSession(false, Session.AUTO_ACKNOWLEDGE);
    MessageConsumer service = rs.createConsumer(rs.createQueue("jms.service"));
    MessageProducer replier = rs.createProducer(null);
    service.setMessageListener(m -> {
      try {
        Message r = rs.createTextMessage("re:" + ((TextMessage) m).getText());
        r.setJMSCorrelationID(m.getJMSCorrelationID());
        replier.send(m.getJMSReplyTo(), r);
      } catch (JMSException e) {
        e.printStackTrace();
      }
    });
    Session qs = req.createSession(false, Session.AUTO_ACKNOWLEDGE);
    TemporaryQueue tq = qs.createTemporaryQueue();
    MessageConsumer replies = qs.createConsumer(tq);
    for (int i = 0; i < 3; i++) {
      Message m = qs.createTextMessage("q" + i);
      m.setJMSReplyTo(tq);
      m.setJMSCorrelationID("c" + i);
      qs.createProducer(qs.createQueue("jms.service")).send(m);
      TextMessage r = (TextMessage) replies.receive(5000);
      check(r != null && r.getText().equals("re:q" + i) && r.getJMSCorrelationID().equals("c" + i), "reply " + i);
    }
    req.close();
    rep.close();
  }

  static void browser() throws Exception {
    Connection c = open();
    Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
    Queue q = s.createQueue("jms.browse");
    MessageProducer p = s.createProducer(q);
    for (int i = 0; i < 3; i++) p.send(s.createTextMessage("b" + i));
    Enumeration<?> e = s.createBrowser(q).getEnumeration();
    int n = 0;
    while (e.hasMoreElements()) {
      e.nextElement();
      n++;
    }
    check(n == 3, "browsed " + n);
    MessageConsumer mc = s.createConsumer(q);
    for (int i = 0; i < 3; i++) check(mc.receive(5000) != null, "still there " + i);
    c.close();
  }

  static void prefetchZero() throws Exception {
    Connection c = open("jms.prefetchPolicy.all=0", null);
    Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
    Queue q = s.createQueue("jms.pf0");
    MessageConsumer mc = s.createConsumer(q);
    check(mc.receiveNoWait() == null, "empty queue: receiveNoWait null");
    check(mc.receive(200) == null, "empty queue: receive(200) null");
    MessageProducer p = s.createProducer(q);
    for (int i = 0; i < 5; i++) p.send(s.createTextMessage("z" + i));
    for (int i = 0; i < 5; i++) {
      TextMessage m = (TextMessage) mc.receive(5000);
      check(m != null && m.getText().equals("z" + i), "pull " + i);
    }
    c.close();
  }

  // A CLIENT_ACKNOWLEDGE consumer reads five times its prefetch before acknowledging: the client's DELIVERED acks
  // must widen the broker's window (ActiveMQ's prefetch extension), or the sixth receive waits forever.
  static void clientAckBeyondPrefetch() throws Exception {
    Connection c = open("jms.prefetchPolicy.all=10", null);
    Session s = c.createSession(false, Session.CLIENT_ACKNOWLEDGE);
    Queue q = s.createQueue("jms.pfwiden.client");
    MessageProducer p = s.createProducer(q);
    for (int i = 0; i < 50; i++) p.send(s.createTextMessage("w" + i));
    MessageConsumer mc = s.createConsumer(q);
    Message lastOne = null;
    for (int i = 0; i < 50; i++) {
      TextMessage m = (TextMessage) mc.receive(5000);
      check(m != null && m.getText().equals("w" + i), "unacked read " + i + " of 50 with prefetch 10");
      lastOne = m;
    }
    lastOne.acknowledge();
    mc.close();
    Session s2 = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
    check(s2.createConsumer(q).receive(500) == null, "all 50 acknowledged at once");
    c.close();
  }

  // INDIVIDUAL_ACKNOWLEDGE beyond the prefetch: every other message acked, the consumer closed; exactly the
  // unacknowledged half comes back, redelivered (acks of window members are kept, the rest returned).
  static void individualAckBeyondPrefetch() throws Exception {
    Connection c = open("jms.prefetchPolicy.all=4", null);
    Session s = c.createSession(false, ActiveMQSession.INDIVIDUAL_ACKNOWLEDGE);
    Queue q = s.createQueue("jms.pfwiden.individual");
    MessageProducer p = s.createProducer(q);
    for (int i = 0; i < 20; i++) p.send(s.createTextMessage("v" + i));
    MessageConsumer mc = s.createConsumer(q);
    for (int i = 0; i < 20; i++) {
      TextMessage m = (TextMessage) mc.receive(5000);
      check(m != null && m.getText().equals("v" + i), "read " + i + " of 20 with prefetch 4");
      if (i % 2 == 0) m.acknowledge();
    }
    mc.close();
    Session s2 = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
    MessageConsumer again = s2.createConsumer(q);
    Set<String> back = new HashSet<>();
    for (TextMessage m; (m = (TextMessage) again.receive(2000)) != null; ) {
      check(m.getJMSRedelivered(), "redelivered flag on " + m.getText());
      back.add(m.getText());
    }
    Set<String> odd = new HashSet<>();
    for (int i = 1; i < 20; i += 2) odd.add("v" + i);
    check(back.equals(odd), "the unacked half came back, got " + back);
    c.close();
  }

  // Prefetch 0 is pull: a consumer that took one message and stopped pulling must not keep the next one from
  // another consumer of the queue.
  static void prefetchZeroShared() throws Exception {
    Connection c = open("jms.prefetchPolicy.all=0", null);
    Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
    Queue q = s.createQueue("jms.pf0.shared");
    MessageProducer p = s.createProducer(q);
    for (int i = 0; i < 3; i++) p.send(s.createTextMessage("s" + i));
    MessageConsumer first = s.createConsumer(q);
    TextMessage m0 = (TextMessage) first.receive(5000);
    check(m0 != null && m0.getText().equals("s0"), "first pull");
    Session s2 = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
    MessageConsumer second = s2.createConsumer(q);
    for (int i = 1; i < 3; i++) {
      TextMessage m = (TextMessage) second.receive(5000);
      check(m != null && m.getText().equals("s" + i), "second consumer gets s" + i + " while the first idles");
    }
    c.close();
  }

  // A MessageListener that throws, with maximumRedeliveries=0: the client sends a poison ack with the listener's
  // exception in its cause; the message goes straight to ActiveMQ.DLQ with that text as dlqDeliveryFailureCause.
  static void poisonCause() throws Exception {
    Connection c = open("jms.redeliveryPolicy.maximumRedeliveries=0", null);
    Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
    Queue q = s.createQueue("jms.poison");
    TextMessage sent = s.createTextMessage("bad");
    sent.setStringProperty("scenario", "poisonCause");
    s.createProducer(q).send(sent);
    java.util.concurrent.CountDownLatch thrown = new java.util.concurrent.CountDownLatch(1);
    Session ls = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
    ls.createConsumer(q).setMessageListener(m -> {
      thrown.countDown();
      throw new java.lang.IllegalStateException("listener refused poison-42");
    });
    check(thrown.await(5, java.util.concurrent.TimeUnit.SECONDS), "listener called");
    MessageConsumer dlq = s.createConsumer(s.createQueue("ActiveMQ.DLQ"), "scenario = 'poisonCause'");
    TextMessage m = (TextMessage) dlq.receive(5000);
    check(m != null && m.getText().equals("bad"), "poisoned message in ActiveMQ.DLQ, got " + m);
    String cause = m.getStringProperty("dlqDeliveryFailureCause");
    check(cause != null && cause.contains("java.lang.IllegalStateException: listener refused poison-42"), "cause " + cause);
    check(dlq.receive(300) == null, "one DLQ copy, no redelivery");
    ls.close();
    Session again = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
    check(again.createConsumer(q).receive(300) == null, "nothing left on the queue");
    c.close();
  }

  // STOMP → JMS: the test sent a SEND without content-length (a TextMessage) and one with it (a BytesMessage),
  // with a custom header (a string property) and correlation-id.
  static void fromStomp() throws Exception {
    Connection c = open();
    Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
    MessageConsumer mc = s.createConsumer(s.createQueue("jms.cross.fromstomp"));
    Message text = mc.receive(5000);
    check(text instanceof TextMessage, "SEND without content-length is a TextMessage, got " + text);
    check("plain text".equals(((TextMessage) text).getText()), "text body");
    check("red".equals(text.getStringProperty("color")), "header as string property");
    check("c-1".equals(text.getJMSCorrelationID()), "correlation-id");
    check(text.getJMSPriority() == 6 && text.getJMSDeliveryMode() == DeliveryMode.PERSISTENT, "priority, persistent");
    Message bytes = mc.receive(5000);
    check(bytes instanceof BytesMessage, "SEND with content-length is a BytesMessage, got " + bytes);
    BytesMessage b = (BytesMessage) bytes;
    byte[] got = new byte[(int) b.getBodyLength()];
    b.readBytes(got);
    check(got.length == 3 && got[0] == 1 && got[1] == 0 && got[2] == 2, "bytes body with a NUL");
    c.close();
  }

  // JMS → STOMP: a TextMessage with typed properties and headers; the test checks the STOMP MESSAGE.
  static void toStomp() throws Exception {
    Connection c = open();
    Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
    MessageProducer p = s.createProducer(s.createQueue("jms.cross.tostomp"));
    TextMessage m = s.createTextMessage("héllo stomp");
    m.setStringProperty("s", "str");
    m.setIntProperty("i", 42);
    m.setBooleanProperty("b", true);
    m.setLongProperty("l", 1L << 40);
    m.setDoubleProperty("d", 2.5);
    m.setJMSCorrelationID("corr-9");
    m.setJMSType("kind");
    m.setJMSReplyTo(s.createQueue("jms.cross.replies"));
    p.send(m, DeliveryMode.PERSISTENT, 7, 0);
    c.close();
  }

  // Beyond ActiveMQ: the URL holds only the first broker; the broker's ConnectionControl names the group, and after
  // the first broker goes away (the test closes it once READY is printed and answers on stdin) the failover
  // transport reconnects to a broker it learned from the broker.
  static void learnsPeers() throws Exception {
    Connection c = open("updateURIsSupported=true&initialReconnectDelay=50&maxReconnectDelay=500", null);
    Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
    Queue q = s.createQueue("jms.cluster");
    MessageProducer p = s.createProducer(q);
    MessageConsumer mc = s.createConsumer(q);
    p.send(s.createTextMessage("before"));
    check(((TextMessage) mc.receive(5000)).getText().equals("before"), "before");
    System.out.println("READY learnsPeers");
    System.out.flush();
    new java.io.BufferedReader(new java.io.InputStreamReader(System.in)).readLine();
    p.send(s.createTextMessage("after"));
    TextMessage m = (TextMessage) mc.receive(20000);
    check(m != null && m.getText().equals("after"), "after the first broker went away");
    System.out.println("REMOTE " + ((org.apache.activemq.ActiveMQConnection) c).getTransport().getRemoteAddress());
    c.close();
  }

  static void prefetchThousand() throws Exception {
    Connection c = open("jms.prefetchPolicy.all=1000", null);
    Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
    Queue q = s.createQueue("jms.pf1000");
    MessageProducer p = s.createProducer(q);
    p.setDeliveryMode(DeliveryMode.NON_PERSISTENT);
    for (int i = 0; i < 2500; i++) p.send(s.createTextMessage("n" + i));
    MessageConsumer mc = s.createConsumer(q);
    for (int i = 0; i < 2500; i++) {
      TextMessage m = (TextMessage) mc.receive(5000);
      check(m != null && m.getText().equals("n" + i), "in order " + i);
    }
    c.close();
  }

  static void groups() throws Exception {
    Connection c = open();
    Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
    Queue q = s.createQueue("jms.groups");
    MessageConsumer a = s.createConsumer(q);
    MessageConsumer b = s.createConsumer(q);
    MessageProducer p = s.createProducer(q);
    for (int i = 0; i < 10; i++) {
      Message m = s.createTextMessage("g" + i);
      m.setStringProperty("JMSXGroupID", i % 2 == 0 ? "A" : "B");
      p.send(m);
    }
    Map<String, Set<MessageConsumer>> owner = new HashMap<>();
    int got = 0;
    for (MessageConsumer mc : List.of(a, b))
      for (Message m; (m = mc.receive(500)) != null; got++)
        owner.computeIfAbsent(m.getStringProperty("JMSXGroupID"), k -> new HashSet<>()).add(mc);
    check(got == 10, "got " + got);
    check(owner.get("A").size() == 1 && owner.get("B").size() == 1, "one consumer per group");
    c.close();
  }

  static void expiry() throws Exception {
    Connection c = open();
    Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
    Queue q = s.createQueue("jms.expiry");
    MessageProducer p = s.createProducer(q);
    p.setTimeToLive(50);
    p.send(s.createTextMessage("old"));
    Thread.sleep(200);
    check(s.createConsumer(q).receive(300) == null, "expired message not delivered");
    TextMessage dlq = (TextMessage) s.createConsumer(s.createQueue("ActiveMQ.DLQ")).receive(5000);
    check(dlq != null && dlq.getText().equals("old"), "expired message in ActiveMQ.DLQ");
    c.close();
  }

  static void priority() throws Exception {
    Connection c = open();
    Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
    Queue q = s.createQueue("jms.prio");
    MessageProducer p = s.createProducer(q);
    for (int i = 0; i < 10; i++) p.send(s.createTextMessage("p" + i), DeliveryMode.PERSISTENT, i % 10, 0);
    MessageConsumer mc = s.createConsumer(q);
    Message m = mc.receive(5000);
    check(m.getJMSPriority() == 9, "highest priority first, got " + m.getJMSPriority());
    c.close();
  }

  static void asyncSends() throws Exception {
    Connection c = open("jms.useAsyncSend=true&jms.producerWindowSize=65536", null);
    Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
    Queue q = s.createQueue("jms.async");
    MessageProducer p = s.createProducer(q);
    byte[] body = new byte[4096];
    for (int i = 0; i < 500; i++) {
      BytesMessage m = s.createBytesMessage();
      m.writeBytes(body);
      p.send(m);
    }
    MessageConsumer mc = s.createConsumer(q);
    for (int i = 0; i < 500; i++) check(mc.receive(5000) != null, "async " + i);
    c.close();
  }

  static void clientIdInUse() throws Exception {
    Connection a = open("", "jms-same-id");
    try {
      open("", "jms-same-id").close();
      throw new AssertionError("second connection with the same client id was accepted");
    } catch (InvalidClientIDException expected) {
      // what ActiveMQ throws
    }
    a.close();
  }
}
