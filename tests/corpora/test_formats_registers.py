"""Register descriptions (IP-XACT, SystemRDL, OpenTitan hjson) become one section per register with its
fields' bits, access and reset: the sections that answer "which bit of which register does X"."""
from __future__ import annotations

import time

import pytest

from corpora.formats import FormatError
from corpora.formats.hjson_regs import load_register_hjson
from corpora.formats.ipxact import load_ipxact
from corpora.formats.registers import parse_bits, parse_int
from corpora.formats.systemrdl import load_systemrdl

IPXACT_2014 = """<?xml version="1.0" encoding="UTF-8"?>
<ipxact:component xmlns:ipxact="http://www.accellera.org/XMLSchema/IPXACT/1685-2014">
  <ipxact:vendor>example.org</ipxact:vendor><ipxact:library>ip</ipxact:library>
  <ipxact:name>uart</ipxact:name><ipxact:version>1.0</ipxact:version>
  <ipxact:memoryMaps><ipxact:memoryMap><ipxact:name>regs</ipxact:name>
    <ipxact:addressBlock><ipxact:name>core</ipxact:name><ipxact:baseAddress>0x4000</ipxact:baseAddress>
      <ipxact:range>0x100</ipxact:range><ipxact:width>32</ipxact:width>
      <ipxact:register><ipxact:name>CTRL</ipxact:name><ipxact:description>UART control register</ipxact:description>
        <ipxact:addressOffset>0x10</ipxact:addressOffset><ipxact:size>32</ipxact:size>
        <ipxact:field><ipxact:name>TX_EN</ipxact:name><ipxact:description>Enable the transmitter.</ipxact:description>
          <ipxact:bitOffset>0</ipxact:bitOffset>
          <ipxact:resets><ipxact:reset><ipxact:value>0</ipxact:value></ipxact:reset></ipxact:resets>
          <ipxact:bitWidth>1</ipxact:bitWidth><ipxact:access>read-write</ipxact:access></ipxact:field>
        <ipxact:field><ipxact:name>NCO</ipxact:name><ipxact:description>Baud rate divisor.</ipxact:description>
          <ipxact:bitOffset>16</ipxact:bitOffset>
          <ipxact:resets><ipxact:reset><ipxact:value>0x1a</ipxact:value></ipxact:reset></ipxact:resets>
          <ipxact:bitWidth>16</ipxact:bitWidth><ipxact:access>read-write</ipxact:access></ipxact:field>
      </ipxact:register>
    </ipxact:addressBlock></ipxact:memoryMap></ipxact:memoryMaps>
</ipxact:component>
"""

IPXACT_2009 = """<?xml version="1.0"?>
<spirit:component xmlns:spirit="http://www.spiritconsortium.org/XMLSchema/SPIRIT/1.5">
  <spirit:name>timer</spirit:name>
  <spirit:memoryMaps><spirit:memoryMap><spirit:name>mm</spirit:name>
    <spirit:addressBlock><spirit:name>blk</spirit:name><spirit:baseAddress>0</spirit:baseAddress>
      <spirit:register><spirit:name>CMP</spirit:name><spirit:addressOffset>0x8</spirit:addressOffset>
        <spirit:size>32</spirit:size><spirit:access>read-write</spirit:access>
        <spirit:reset><spirit:value>0xffffffff</spirit:value></spirit:reset>
        <spirit:field><spirit:name>VALUE</spirit:name><spirit:bitOffset>0</spirit:bitOffset>
          <spirit:bitWidth>32</spirit:bitWidth></spirit:field>
      </spirit:register>
    </spirit:addressBlock></spirit:memoryMap></spirit:memoryMaps>
</spirit:component>
"""

XXE = """<?xml version="1.0"?>
<!DOCTYPE component [<!ENTITY leak SYSTEM "file:///etc/passwd">]>
<component><name>&leak;</name></component>
"""

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<component><name>&lol9;</name></component>
"""

RDL = """addrmap uart {
  name = "UART";
  reg {
    desc = "UART control register";
    field { sw=rw; hw=r; desc="Enable the transmitter."; } TX_EN[0:0] = 0;
    field { sw=rw; hw=r; desc="Baud rate divisor (NCO)."; } NCO[31:16] = 0x1a;
  } CTRL @ 0x10;
  reg {
    field { sw=r; hw=w; desc="TX FIFO is full."; } TXFULL[3:3] = 0;
  } STATUS @ 0x14;
};
"""

HJSON = """{
  name: "pwm",
  regwidth: "32",
  param_list: [{name: "NumCh", default: "4", type: "int"}],
  registers: [
    { name: "CTRL", desc: "PWM control", swaccess: "rw",
      fields: [
        { bits: "0", name: "EN", desc: "Enable the PWM block.", resval: "0" },
        { bits: "7:4", name: "MODE", desc: "Output mode.",
          enum: [{value: "0", name: "off", desc: "held low"}, {value: "1", name: "pulse", desc: "pulses"}] }
      ] },
    { multireg: { name: "CH_EN", desc: "Channel enables", count: "NumCh", cname: "ch", swaccess: "rw",
                  fields: [{ bits: "0", name: "EN", desc: "Enable this channel." }] } },
    { skipto: "0x40" },
    { name: "DUTY", desc: "Duty cycle", swaccess: "rw",
      fields: [{ bits: "15:0", name: "A", desc: "Duty cycle of channel A in clock cycles." }] },
  ]
}
"""


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_bits_and_numbers_parse_the_common_spellings():
    assert parse_bits("7:4") == (7, 4) and parse_bits("[4..7]") == (7, 4) and parse_bits("3") == (3, 3)
    assert parse_bits("n/a") == (None, None)
    assert [parse_int(s) for s in ("0x1C", "16'h001C", "1Ch", "28", "0b11", "'h10")] == [28, 28, 28, 28, 3, 16]


def test_ipxact_2014_register_section_has_offset_bits_access_reset(tmp_path):
    loaded = load_ipxact(_write(tmp_path, "uart.xml", IPXACT_2014))
    assert loaded.doc_type == "registers" and loaded.title == "uart registers"
    lines = loaded.text.splitlines()
    assert "## CTRL @ 0x10" in lines
    assert "| 31:16 | NCO | read-write | 0x1a | Baud rate divisor. |" in lines
    assert "| 0 | TX_EN | read-write | 0x0 | Enable the transmitter. |" in lines
    assert any(l.startswith("# uart regs.core (base 0x4000)") for l in lines)


def test_ipxact_2009_namespace_and_register_level_reset(tmp_path):
    text = load_ipxact(_write(tmp_path, "timer.xml", IPXACT_2009)).text
    assert "## CMP @ 0x8" in text and "reset 0xffffffff" in text and "| 31:0 | VALUE | read-write |" in text


def test_ipxact_external_entity_is_refused_and_nothing_is_read(tmp_path):
    with pytest.raises(FormatError, match=r"xxe\.xml: unsafe XML refused") as e:
        load_ipxact(_write(tmp_path, "xxe.xml", XXE))
    assert "root:" not in str(e.value)


def test_ipxact_billion_laughs_is_refused_quickly(tmp_path):
    t0 = time.perf_counter()
    with pytest.raises(FormatError, match=r"bomb\.xml: unsafe XML refused"):
        load_ipxact(_write(tmp_path, "bomb.xml", BILLION_LAUGHS))
    assert time.perf_counter() - t0 < 2


def test_ipxact_malformed_and_foreign_xml_name_the_file(tmp_path):
    with pytest.raises(FormatError, match=r"bad\.xml: malformed XML"):
        load_ipxact(_write(tmp_path, "bad.xml", "<component><name>x</component>"))
    with pytest.raises(FormatError, match=r"svg\.xml: not an IP-XACT component"):
        load_ipxact(_write(tmp_path, "svg.xml", "<svg/>"))


def test_systemrdl_registers_and_fields(tmp_path):
    loaded = load_systemrdl(_write(tmp_path, "uart.rdl", RDL))
    lines = loaded.text.splitlines()
    assert "## CTRL @ 0x10" in lines and "## STATUS @ 0x14" in lines
    assert "| 31:16 | NCO | rw | 0x1a | Baud rate divisor (NCO). |" in lines
    assert "| 3 | TXFULL | r | 0x0 | TX FIFO is full. |" in lines
    assert loaded.meta["registers"] == 2


def test_systemrdl_perl_include_and_syntax_errors_are_refused(tmp_path):
    with pytest.raises(FormatError, match=r"perl\.rdl: SystemRDL embedded Perl"):
        load_systemrdl(_write(tmp_path, "perl.rdl", "<% system('touch /tmp/pwned'); %>\n" + RDL))
    sub = tmp_path / "sub"
    sub.mkdir()
    with pytest.raises(FormatError, match=r"incl\.rdl: SystemRDL include '\.\./uart\.rdl' is outside"):
        load_systemrdl(_write(sub, "incl.rdl", '`include "../uart.rdl"\n'))
    with pytest.raises(FormatError, match=r"broken\.rdl: SystemRDL does not compile"):
        load_systemrdl(_write(tmp_path, "broken.rdl", "addrmap x { reg { field {} F[0:0] } R; "))


def test_opentitan_hjson_offsets_multireg_skipto_and_enums(tmp_path):
    loaded = load_register_hjson(_write(tmp_path, "pwm.hjson", HJSON))
    lines = loaded.text.splitlines()
    assert "## CTRL @ 0x0" in lines and "## CH_EN_0 @ 0x4" in lines and "## DUTY @ 0x40" in lines
    assert "| 3 | EN_3 | rw |  | Enable this channel. |" in lines  # 4 one-bit copies packed into one register
    assert "| 7:4 | MODE | rw |  | Output mode. Values: 0 = off (held low); 1 = pulse (pulses). |" in lines
    assert "| 0 | EN | rw | 0x0 | Enable the PWM block. |" in lines


def test_hjson_without_registers_is_not_a_register_file(tmp_path):
    assert load_register_hjson(_write(tmp_path, "tp.hjson", '{name: "uart", testpoints: []}')) is None
    with pytest.raises(FormatError, match=r"bad\.hjson: malformed hjson"):
        load_register_hjson(_write(tmp_path, "bad.hjson", "{name: [}"))
