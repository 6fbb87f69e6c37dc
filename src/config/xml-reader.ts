/**
 * Reads an ActiveMQ-style XML config (root `<broker>`, or `<beans>` holding one `<broker>`) into the input model
 * of schema.ts, recording the line of every element and attribute so errors can name `file:line`. It knows the
 * XML-only shapes: namespace declarations and prefixes (ignored), Spring's property-holding-a-bean nesting
 * (`<systemUsage><systemUsage>…`, `<memoryUsage><memoryUsage limit=…/>`, `<policyMap><policyMap>…`), and list
 * elements (`<transportConnectors>` holding `<transportConnector>`s, `<policyEntries>` holding `<policyEntry>`s). It does not judge names or values: the schema does
 * that for XML and JSON alike, so unknown attributes and elements pass through here and are reported there.
 * Parsing is saxes (strict, well-formedness errors with line and column); no XML is hand-parsed.
 */
import { SaxesParser } from 'saxes'
import { BrokerError } from '../lib/errors.ts'
import { Locator, type PathItem } from './origin.ts'
import { didYouMean } from './suggest.ts'

interface XmlAttribute {
  name: string
  value: string
  line: number
}

interface XmlElement {
  name: string
  line: number
  attributes: XmlAttribute[]
  children: XmlElement[]
  /** Non-whitespace text directly inside, if any (an error: config is attributes and elements only). */
  text: string
}

/** List elements: the element at this input path holds only items of the given name, read as an array. */
const LIST_ITEMS: Record<string, string> = {
  transportConnectors: 'transportConnector',
  'destinationPolicy.policyMap.policyEntries': 'policyEntry',
  'plugins.simpleAuthenticationPlugin.users': 'authenticationUser',
  'plugins.authorizationPlugin.map.authorizationMap.authorizationEntries': 'authorizationEntry',
}

/** Spring elements that may sit beside `<broker>` in a `<beans>` file; sfbroker does not read them. */
const SPRING_ELEMENTS = ['bean', 'import', 'property-placeholder', 'camelContext', 'alias', 'description', 'jetty']

/** Drop a namespace prefix: `amq:broker` → `broker`. */
function localName(name: string): string {
  const i = name.indexOf(':')
  return i < 0 ? name : name.slice(i + 1)
}

function isNamespaceAttribute(name: string): boolean {
  return name === 'xmlns' || name.startsWith('xmlns:') || name.startsWith('xsi:')
}

/** Parse XML text into an element tree with line numbers. Throws CONFIG_INVALID for malformed XML. */
export function parseXml(xml: string, file: string): XmlElement {
  const parser = new SaxesParser({ xmlns: false, position: true, fileName: file })
  const stack: XmlElement[] = []
  let root: XmlElement | undefined
  let pendingAttributes: XmlAttribute[] = []
  let tagLine = 0
  parser.on('opentagstart', () => {
    tagLine = parser.line
    pendingAttributes = []
  })
  parser.on('attribute', (a) => {
    pendingAttributes.push({ name: a.name, value: a.value, line: parser.line })
  })
  parser.on('opentag', (tag) => {
    const el: XmlElement = { name: tag.name, line: tagLine, attributes: pendingAttributes, children: [], text: '' }
    pendingAttributes = []
    const parent = stack[stack.length - 1]
    if (parent) parent.children.push(el)
    else root = el
    stack.push(el)
  })
  parser.on('closetag', () => {
    stack.pop()
  })
  const onText = (t: string): void => {
    const el = stack[stack.length - 1]
    if (el && t.trim() !== '') el.text += t.trim()
  }
  parser.on('text', onText)
  parser.on('cdata', onText)
  try {
    parser.write(xml).close()
  } catch (e) {
    // saxes messages already read "file:line:column: problem".
    throw new BrokerError('CONFIG_INVALID', `${(e as Error).message} (expected well-formed XML)`, { cause: e })
  }
  if (!root) throw new BrokerError('CONFIG_INVALID', `${file}: no root element; expected <broker> or <beans>`)
  return root
}

/** Read an XML config: the input object (for the schema) and a Locator naming file:line for each path. */
export function readXmlConfig(xml: string, file: string): { input: Record<string, unknown>; locator: Locator } {
  const locator = new Locator(file, 'xml')
  const root = parseXml(xml, file)
  const rootName = localName(root.name)
  let broker: XmlElement
  if (rootName === 'broker') broker = root
  else if (rootName === 'beans') {
    const brokers = root.children.filter((c) => localName(c.name) === 'broker')
    for (const c of root.children) {
      const n = localName(c.name)
      if (n === 'broker') continue
      if (SPRING_ELEMENTS.includes(n)) {
        throw new BrokerError(
          'CONFIG_UNSUPPORTED',
          `${file}:${c.line}: <${c.name}> is not supported by sfbroker; <beans> may hold only <broker>`,
        )
      }
      throw new BrokerError(
        'CONFIG_INVALID',
        `${file}:${c.line}: <beans> has unknown element <${c.name}>${didYouMean(n, ['broker'])}; expected one <broker>`,
      )
    }
    if (brokers.length !== 1) {
      const line = brokers[1]?.line ?? root.line
      throw new BrokerError(
        'CONFIG_INVALID',
        `${file}:${line}: <beans> holds ${brokers.length} <broker> elements; expected exactly one`,
      )
    }
    broker = brokers[0]
  } else {
    throw new BrokerError(
      'CONFIG_INVALID',
      `${file}:${root.line}: root element is <${root.name}>; expected <broker> or <beans>${didYouMean(rootName, ['broker', 'beans'])}`,
    )
  }
  locator.set([], { line: broker.line, element: 'broker' })
  const input = elementToObject(broker, [], file, locator)
  return { input, locator }
}

function elementToObject(el: XmlElement, path: PathItem[], file: string, locator: Locator): Record<string, unknown> {
  const elName = localName(el.name)
  // Null prototype: an attribute named like an Object.prototype member ("constructor") is an ordinary key.
  const out: Record<string, unknown> = Object.create(null)
  for (const a of el.attributes) {
    if (isNamespaceAttribute(a.name)) continue
    if (a.value.includes('${')) {
      throw new BrokerError(
        'CONFIG_UNSUPPORTED',
        `${file}:${a.line}: <${elName}> attribute "${a.name}"="${a.value}": Spring property placeholders (\${...}) are not supported; write the value itself`,
      )
    }
    out[a.name] = a.value
    locator.set([...path, a.name], { line: a.line, element: elName, attribute: a.name })
  }
  if (el.text !== '') {
    const shown = el.text.length > 40 ? el.text.slice(0, 37) + '...' : el.text
    // <kahaDB><directory>/x</directory></kahaDB> is Spring's property syntax; sfbroker reads attributes only.
    const parent = path.length > 0 ? locator.origin(path.slice(0, -1))?.element : undefined
    const hint =
      parent && el.children.length === 0 && el.attributes.length === 0
        ? `; write it as an attribute: <${parent} ${elName}="${shown}">`
        : '; expected only attributes and child elements'
    throw new BrokerError('CONFIG_INVALID', `${file}:${el.line}: <${elName}> contains text "${shown}"${hint}`)
  }
  for (const child of el.children) {
    const key = localName(child.name)
    const childPath = [...path, key]
    if (Object.hasOwn(out, key)) {
      const what = locator.origin(childPath)?.attribute ? `both an attribute and an element` : `more than once`
      throw new BrokerError(
        'CONFIG_INVALID',
        `${file}:${child.line}: <${elName}> has <${key}> ${what}; expected it once`,
      )
    }
    locator.set(childPath, { line: child.line, element: key })
    const itemName = LIST_ITEMS[childPath.map((p) => (typeof p === 'number' ? '[]' : p)).join('.')]
    if (itemName !== undefined) {
      out[key] = readList(child, key, itemName, childPath, file, locator)
      continue
    }
    // Spring nesting: a property element with no attributes holding exactly one bean of the same name.
    const only = child.children.length === 1 ? child.children[0] : undefined
    if (
      child.attributes.filter((a) => !isNamespaceAttribute(a.name)).length === 0 &&
      child.text === '' &&
      only &&
      localName(only.name) === key
    ) {
      locator.set(childPath, { line: only.line, element: key })
      out[key] = elementToObject(only, childPath, file, locator)
    } else {
      out[key] = elementToObject(child, childPath, file, locator)
    }
  }
  return out
}

function readList(
  el: XmlElement,
  listName: string,
  itemName: string,
  path: PathItem[],
  file: string,
  locator: Locator,
): unknown[] {
  for (const a of el.attributes) {
    if (isNamespaceAttribute(a.name)) continue
    throw new BrokerError(
      'CONFIG_INVALID',
      `${file}:${a.line}: <${listName}> has unknown attribute "${a.name}"; expected only <${itemName}> elements inside`,
    )
  }
  if (el.text !== '')
    throw new BrokerError(
      'CONFIG_INVALID',
      `${file}:${el.line}: <${listName}> contains text; expected only <${itemName}> elements`,
    )
  return el.children.map((item, i) => {
    const n = localName(item.name)
    if (n !== itemName) {
      throw new BrokerError(
        'CONFIG_INVALID',
        `${file}:${item.line}: <${listName}> has unknown element <${item.name}>${didYouMean(n, [itemName])}; expected <${itemName}>`,
      )
    }
    locator.set([...path, i], { line: item.line, element: itemName })
    return elementToObject(item, [...path, i], file, locator)
  })
}
