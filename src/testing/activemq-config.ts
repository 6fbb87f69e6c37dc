/**
 * The activemq.xml that test fixtures and benchmark scripts give a private ActiveMQ 5.17 instance: KahaDB in a
 * (shared) directory, one STOMP connector on 127.0.0.1 (and optionally an MQTT one: ActiveMQ's activemq-mqtt transport,
 * which needs the fusesource mqtt-client jar on its class path, MQTT_CLIENT_JAR), no JMX, optionally a tuned
 * shared-file locker. Only the
 * config text lives here; how the JVM is launched differs on purpose (tests start fast, benchmarks run as Debian
 * ships it).
 */
export function xmlAttr(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;')
}

export interface ActiveMQConfigOptions {
  brokerName: string
  /** `<broker dataDirectory>` (scheduler, tmp storage). */
  dataDirectory: string
  /** The KahaDB directory: shared by every broker of a primary/replica pair. */
  kahaDbDirectory: string
  stompPort: number
  /** Also an `mqtt://127.0.0.1:<mqttPort>` transport connector (the JVM needs MQTT_CLIENT_JAR on its class path). */
  mqttPort?: number
  /** Also an OpenWire `tcp://127.0.0.1:<openwirePort>` transport connector. */
  openwirePort?: number
  lockAcquireSleepInterval?: number
  /** Extra `<broker>` attributes, e.g. { schedulerSupport: 'false', advisorySupport: 'false' }. */
  brokerAttributes?: Record<string, string>
}

/** Debian's libmqtt-client-java: the MQTT codec ActiveMQ's activemq-mqtt transport is built on (not in its lib/). */
export const MQTT_CLIENT_JAR = '/usr/share/java/mqtt-client.jar'

export function activemqXml(o: ActiveMQConfigOptions): string {
  const mqtt = o.mqttPort !== undefined ? `<transportConnector name="mqtt" uri="mqtt://127.0.0.1:${o.mqttPort}"/>` : ''
  const openwire =
    o.openwirePort !== undefined ? `<transportConnector name="openwire" uri="tcp://127.0.0.1:${o.openwirePort}"/>` : ''
  const locker =
    o.lockAcquireSleepInterval !== undefined
      ? `<locker><shared-file-locker lockAcquireSleepInterval="${o.lockAcquireSleepInterval}"/></locker>`
      : ''
  const extra = Object.entries(o.brokerAttributes ?? {})
    .map(([k, v]) => ` ${k}="${xmlAttr(v)}"`)
    .join('')
  return `<beans xmlns="http://www.springframework.org/schema/beans" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="http://www.springframework.org/schema/beans http://www.springframework.org/schema/beans/spring-beans-2.0.xsd
  http://activemq.apache.org/schema/core http://activemq.apache.org/schema/core/activemq-core.xsd">
  <broker xmlns="http://activemq.apache.org/schema/core" useJmx="false" brokerName="${xmlAttr(o.brokerName)}" dataDirectory="${xmlAttr(o.dataDirectory)}"${extra}>
    <persistenceAdapter><kahaDB directory="${xmlAttr(o.kahaDbDirectory)}">${locker}</kahaDB></persistenceAdapter>
    <transportConnectors><transportConnector name="stomp" uri="stomp://127.0.0.1:${o.stompPort}"/>${mqtt}${openwire}</transportConnectors>
  </broker>
</beans>
`
}
