//! Canonicalization against the examples of the C14N and exc-c14n recommendations.

use super::*;
use crate::verify::xml::parse::{Budget, parse};

fn c14n(xml: &str, mode: Mode, comments: bool, apex_id: Option<&str>) -> String {
    let doc = parse(xml.as_bytes()).unwrap();
    let apex = match apex_id {
        Some(id) => doc
            .descendants()
            .find(|n| n.attribute("id") == Some(id))
            .unwrap(),
        None => doc.root(),
    };
    let set = NodeSet {
        apex,
        exclude: &[],
        comments: true,
    };
    let m = Method { mode, comments };
    String::from_utf8(canonicalize(set, &m, &Budget::for_input(xml.len())).unwrap()).unwrap()
}

#[test]
fn c14n_spec_3_1_pis_comments_outside_document_element() {
    let xml = "<?xml version=\"1.0\"?>\n\n<?xml-stylesheet   href=\"doc.xsl\"\n   type=\"text/xsl\"   ?>\n\n<doc>Hello, world!<!-- Comment 1 --></doc>\n\n<?pi-without-data     ?>\n\n<!-- Comment 2 -->\n\n<!-- Comment 3 -->";
    assert_eq!(
        c14n(xml, Mode::Inclusive, false, None),
        "<?xml-stylesheet href=\"doc.xsl\"\n   type=\"text/xsl\"   ?>\n<doc>Hello, world!</doc>\n<?pi-without-data?>"
    );
    assert_eq!(
        c14n(xml, Mode::Inclusive, true, None),
        "<?xml-stylesheet href=\"doc.xsl\"\n   type=\"text/xsl\"   ?>\n<doc>Hello, world!<!-- Comment 1 --></doc>\n<?pi-without-data?>\n<!-- Comment 2 -->\n<!-- Comment 3 -->"
    );
}

#[test]
fn c14n_spec_3_3_start_and_end_tags() {
    let xml = r#"<doc>
   <e1   />
   <e2   ></e2>
   <e3   name = "elem3"   id="elem3"   />
   <e4   name="elem4"   id="elem4"   ></e4>
   <e5 a:attr="out" b:attr="sorted" attr2="all" attr="I'm"
      xmlns:b="http://www.ietf.org"
      xmlns:a="http://www.w3.org"
      xmlns="http://example.org"/>
   <e6 xmlns="" xmlns:a="http://www.w3.org">
      <e7 xmlns="http://www.ietf.org">
         <e8 xmlns="" xmlns:a="http://www.w3.org">
            <e9 xmlns="" xmlns:a="http://www.ietf.org"/>
         </e8>
      </e7>
   </e6>
</doc>"#;
    let want = r#"<doc>
   <e1></e1>
   <e2></e2>
   <e3 id="elem3" name="elem3"></e3>
   <e4 id="elem4" name="elem4"></e4>
   <e5 xmlns="http://example.org" xmlns:a="http://www.w3.org" xmlns:b="http://www.ietf.org" attr="I'm" attr2="all" b:attr="sorted" a:attr="out"></e5>
   <e6 xmlns:a="http://www.w3.org">
      <e7 xmlns="http://www.ietf.org">
         <e8 xmlns="">
            <e9 xmlns:a="http://www.ietf.org"></e9>
         </e8>
      </e7>
   </e6>
</doc>"#;
    assert_eq!(c14n(xml, Mode::Inclusive, false, None), want);
}

#[test]
fn c14n_spec_3_4_character_modifications() {
    let xml = "<doc>\n   <text>First line&#x0d;&#10;Second line</text>\n   <value>&#x32;</value>\n   <compute><![CDATA[value>\"0\" && value<\"10\" ?\"valid\":\"error\"]]></compute>\n   <compute expr='value>\"0\" &amp;&amp; value&lt;\"10\" ?\"valid\":\"error\"'>valid</compute>\n   <norm attr=' &apos;   &#x20;&#13;&#xa;&#9;   &apos; '/>\n</doc>";
    let want = "<doc>\n   <text>First line&#xD;\nSecond line</text>\n   <value>2</value>\n   <compute>value&gt;\"0\" &amp;&amp; value&lt;\"10\" ?\"valid\":\"error\"</compute>\n   <compute expr=\"value>&quot;0&quot; &amp;&amp; value&lt;&quot;10&quot; ?&quot;valid&quot;:&quot;error&quot;\">valid</compute>\n   <norm attr=\" '    &#xD;&#xA;&#x9;   ' \"></norm>\n</doc>";
    assert_eq!(c14n(xml, Mode::Inclusive, false, None), want);
}

#[test]
fn subset_apex_inclusive_takes_ancestors_namespaces_exclusive_only_used_ones() {
    let xml = r#"<n0:local xmlns:n0="foo:bar" xmlns:n3="ftp://example.org" xml:lang="kk"><n1:elem2 xmlns:n1="http://example.net" id="x"><n3:stuff xmlns:n3="ftp://example.org"/></n1:elem2></n0:local>"#;
    assert_eq!(
        c14n(xml, Mode::Inclusive, false, Some("x")),
        r#"<n1:elem2 xmlns:n0="foo:bar" xmlns:n1="http://example.net" xmlns:n3="ftp://example.org" id="x" xml:lang="kk"><n3:stuff></n3:stuff></n1:elem2>"#
    );
    assert_eq!(
        c14n(xml, Mode::Exclusive(vec![]), false, Some("x")),
        r#"<n1:elem2 xmlns:n1="http://example.net" id="x"><n3:stuff xmlns:n3="ftp://example.org"></n3:stuff></n1:elem2>"#
    );
    assert_eq!(
        c14n(xml, Mode::Exclusive(vec!["n0".into()]), false, Some("x")),
        r#"<n1:elem2 xmlns:n0="foo:bar" xmlns:n1="http://example.net" id="x"><n3:stuff xmlns:n3="ftp://example.org"></n3:stuff></n1:elem2>"#
    );
}

#[test]
fn exclusive_default_namespace_is_undeclared_only_when_rendered() {
    let xml = r#"<a xmlns="urn:a"><b xmlns="" id="x"><c/></b></a>"#;
    assert_eq!(
        c14n(xml, Mode::Exclusive(vec![]), false, None),
        r#"<a xmlns="urn:a"><b xmlns="" id="x"><c></c></b></a>"#
    );
    assert_eq!(
        c14n(xml, Mode::Exclusive(vec![]), false, Some("x")),
        r#"<b id="x"><c></c></b>"#
    );
}
