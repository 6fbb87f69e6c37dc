// The OpenWire load of bench-vs-activemq (scripts/bench-lib/openwire-rows.ts): one row per run, the ActiveMQ 5.17
// JMS client against whichever broker URL it is given. Usage:
//   java JmsBench syncSend     URL QUEUE COUNT SIZE TIMEOUT_MS   persistent sends, each waiting for the broker
//   java JmsBench asyncSend    URL QUEUE COUNT SIZE TIMEOUT_MS   persistent sends with jms.useAsyncSend (a 1 MiB
//                                                                producer window), timed until a last send's
//                                                                answer confirms the broker has taken them all
//   java JmsBench drain        URL QUEUE COUNT SIZE TIMEOUT_MS   one AUTO_ACKNOWLEDGE consumer receives COUNT
//   java JmsBench requestReply URL QUEUE COUNT SIZE TIMEOUT_MS   a responder and a requester on a temp queue,
//                                                                non-persistent, one request in flight
// Prints one line `RESULT {"count":n,"seconds":s,"msgsPerSec":r,"p50Ms":a,"p99Ms":b}` (latencies only for the
// sync rows), or `FAIL why` and exit 1. Every loop is bounded by COUNT and by TIMEOUT_MS.
import java.util.Arrays;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import javax.jms.*;
import org.apache.activemq.ActiveMQConnectionFactory;
import org.apache.activemq.ActiveMQMessageProducer;
import org.apache.activemq.AsyncCallback;

public class JmsBench {
  static long deadline;

  static Connection open(String url) throws JMSException {
    Connection c = new ActiveMQConnectionFactory(url).createConnection();
    c.start();
    return c;
  }

  static void inTime(String what, int done) {
    if (System.nanoTime() > deadline) throw new RuntimeException(what + ": timed out after " + done);
  }

  static String result(int count, long t0, long[] lat) {
    double s = (System.nanoTime() - t0) / 1e9;
    StringBuilder b = new StringBuilder("RESULT {\"count\":" + count + ",\"seconds\":" + s);
    b.append(",\"msgsPerSec\":").append(count / s);
    if (lat != null) {
      Arrays.sort(lat);
      b.append(",\"p50Ms\":").append(lat[lat.length / 2] / 1e6);
      b.append(",\"p99Ms\":").append(lat[Math.min(lat.length - 1, (int) (lat.length * 0.99))] / 1e6);
    }
    return b.append("}").toString();
  }

  static String body(int size) {
    char[] c = new char[size];
    Arrays.fill(c, 'x');
    return new String(c);
  }

  public static void main(String[] args) {
    try {
      String role = args[0], url = args[1], queue = args[2];
      int count = Integer.parseInt(args[3]), size = Integer.parseInt(args[4]);
      deadline = System.nanoTime() + Long.parseLong(args[5]) * 1_000_000L;
      String line;
      switch (role) {
        case "syncSend": line = syncSend(url, queue, count, size); break;
        case "asyncSend": line = asyncSend(url, queue, count, size); break;
        case "drain": line = drain(url, queue, count); break;
        case "requestReply": line = requestReply(url, queue, count, size); break;
        default: throw new IllegalArgumentException("unknown role " + role);
      }
      System.out.println(line);
      System.exit(0);
    } catch (Throwable t) {
      System.out.println("FAIL " + t);
      System.exit(1);
    }
  }

  static String syncSend(String url, String queue, int count, int size) throws JMSException {
    Connection c = open(url);
    Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
    MessageProducer p = s.createProducer(s.createQueue(queue));
    p.setDeliveryMode(DeliveryMode.PERSISTENT);
    TextMessage m = s.createTextMessage(body(size));
    long[] lat = new long[count];
    long t0 = System.nanoTime();
    for (int i = 0; i < count; i++) {
      inTime("syncSend", i);
      long a = System.nanoTime();
      p.send(m);
      lat[i] = System.nanoTime() - a;
    }
    String r = result(count, t0, lat);
    c.close();
    return r;
  }

  static String asyncSend(String url, String queue, int count, int size) throws Exception {
    Connection c = open(url + (url.contains("?") ? "&" : "?") + "jms.useAsyncSend=true&jms.producerWindowSize=1048576");
    Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
    ActiveMQMessageProducer p = (ActiveMQMessageProducer) s.createProducer(s.createQueue(queue));
    p.setDeliveryMode(DeliveryMode.PERSISTENT);
    TextMessage m = s.createTextMessage(body(size));
    long t0 = System.nanoTime();
    for (int i = 0; i < count - 1; i++) {
      inTime("asyncSend", i);
      p.send(m);
    }
    // The last one asks for an answer: the broker answers it after every earlier send of this connection.
    CountDownLatch last = new CountDownLatch(1);
    Exception[] failed = new Exception[1];
    p.send(m, new AsyncCallback() {
      public void onSuccess() { last.countDown(); }
      public void onException(JMSException e) { failed[0] = e; last.countDown(); }
    });
    long left = Math.max(1, (deadline - System.nanoTime()) / 1_000_000L);
    if (!last.await(left, TimeUnit.MILLISECONDS)) throw new RuntimeException("asyncSend: no answer to the last send");
    if (failed[0] != null) throw failed[0];
    String r = result(count, t0, null);
    c.close();
    return r;
  }

  static String drain(String url, String queue, int count) throws JMSException {
    Connection c = open(url);
    Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
    MessageConsumer mc = s.createConsumer(s.createQueue(queue));
    long t0 = System.nanoTime();
    for (int i = 0; i < count; i++) {
      inTime("drain", i);
      if (mc.receive(10_000) == null) throw new RuntimeException("drain: nothing for 10 s after " + i);
    }
    String r = result(count, t0, null);
    c.close();
    return r;
  }

  static String requestReply(String url, String queue, int count, int size) throws JMSException {
    Connection server = open(url);
    Session ss = server.createSession(false, Session.AUTO_ACKNOWLEDGE);
    MessageProducer replies = ss.createProducer(null);
    replies.setDeliveryMode(DeliveryMode.NON_PERSISTENT);
    ss.createConsumer(ss.createQueue(queue)).setMessageListener(req -> {
      try {
        Message reply = ss.createTextMessage(((TextMessage) req).getText());
        reply.setJMSCorrelationID(req.getJMSCorrelationID());
        replies.send(req.getJMSReplyTo(), reply);
      } catch (JMSException e) {
        e.printStackTrace();
      }
    });
    Connection client = open(url);
    Session cs = client.createSession(false, Session.AUTO_ACKNOWLEDGE);
    TemporaryQueue replyTo = cs.createTemporaryQueue();
    MessageConsumer answers = cs.createConsumer(replyTo);
    MessageProducer requests = cs.createProducer(cs.createQueue(queue));
    requests.setDeliveryMode(DeliveryMode.NON_PERSISTENT);
    String text = body(size);
    long[] lat = new long[count];
    long t0 = System.nanoTime();
    for (int i = 0; i < count; i++) {
      inTime("requestReply", i);
      long a = System.nanoTime();
      TextMessage m = cs.createTextMessage(text);
      m.setJMSReplyTo(replyTo);
      m.setJMSCorrelationID("r" + i);
      requests.send(m);
      Message reply = answers.receive(10_000);
      if (reply == null || !("r" + i).equals(reply.getJMSCorrelationID()))
        throw new RuntimeException("requestReply: no reply to request " + i);
      lat[i] = System.nanoTime() - a;
    }
    String r = result(count, t0, lat);
    client.close();
    server.close();
    return r;
  }
}
