<?xml version="1.0" encoding="UTF-8"?>
<!-- Renders our RSS 2.0 and Atom 1.0 feeds as a readable page when opened in a browser
     from a host that serves the files as they are (S3, a plain static server). Our own server
     and deploy/nginx.conf never need it: they answer a browser with the feed folder's
     index.html page instead. Browsers are removing XSLT; where it is gone, this instruction is
     ignored and feed readers never read it, so keeping it costs nothing.
     Its words are the feed's edition's (its xml:lang or <language>): the WORDS comment below
     is replaced by them, from syndication.words, when the site is published.
     The style is inline: a feed sits at different depths (kk/, kk/sources/x/), and relative
     URLs in the output resolve against the feed, so a linked style.css would break. -->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:atom="http://www.w3.org/2005/Atom" xmlns:dc="http://purl.org/dc/elements/1.1/"
    exclude-result-prefixes="atom dc">
  <xsl:output method="html" encoding="UTF-8" indent="yes"/>
  <xsl:variable name="lang" select="rss/channel/language|atom:feed/@xml:lang"/>
  <xsl:variable name="links" select="rss/channel/atom:link|atom:feed/atom:link"/>
  <!-- The address to follow: an archive document's current one, else the feed's own. -->
  <xsl:variable name="address">
    <xsl:choose>
      <xsl:when test="$links[@rel='current']"><xsl:value-of select="$links[@rel='current']/@href"/></xsl:when>
      <xsl:otherwise><xsl:value-of select="$links[@rel='self']/@href"/></xsl:otherwise>
    </xsl:choose>
  </xsl:variable>
  <!-- WORDS: each edition's words, filled in from syndication.words when published -->
  <xsl:template match="/">
    <html lang="{$lang}">
      <head>
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <title><xsl:value-of select="rss/channel/title|atom:feed/atom:title"/></title>
        <style>
          body { font: 17px/1.55 system-ui, "Noto Sans", "PingFang SC", sans-serif;
                 max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #1d1d1f; }
          a { color: #0b57d0; } .meta, small { color: #5f6368; font-size: 0.9rem; }
          article { border-bottom: 1px solid #e3e3e3; padding-bottom: 1rem; }
          .note { background: #f1f3f4; padding: 0.6rem 0.9rem; border-radius: 6px; }
          .note code { overflow-wrap: anywhere; user-select: all; } nav { margin-top: 1.5rem; }
          @media (prefers-color-scheme: dark) { body { color: #e8eaed; background: #202124; }
            a { color: #8ab4f8; } .note { background: #303134; } }
        </style>
      </head>
      <body>
        <header>
          <h1><xsl:value-of select="rss/channel/title|atom:feed/atom:title"/></h1>
          <p><xsl:value-of select="rss/channel/description|atom:feed/atom:subtitle"/></p>
          <div class="note"><p><xsl:value-of select="$subscribe"/></p>
            <p><a href="{$address}"><code><xsl:value-of select="$address"/></code></a></p></div>
          <nav class="editions">
            <xsl:for-each select="$links[@rel='alternate'][@hreflang]">
              <xsl:if test="position() &gt; 1"> · </xsl:if>
              <a href="{@href}" hreflang="{@hreflang}" lang="{@hreflang}">
                <xsl:call-template name="edition-name"><xsl:with-param name="tag" select="string(@hreflang)"/></xsl:call-template>
              </a>
            </xsl:for-each>
          </nav>
        </header>
        <main>
          <xsl:apply-templates select="rss/channel/item|atom:feed/atom:entry"/>
        </main>
        <nav class="pages">
          <xsl:if test="$links[@rel='prev-archive']">
            <a href="{$links[@rel='prev-archive']/@href}" rel="prev"><xsl:value-of select="$older"/></a>
          </xsl:if>
          <xsl:if test="$links[@rel='prev-archive'] and $links[@rel='current']"> · </xsl:if>
          <xsl:if test="$links[@rel='current']">
            <a href="{$links[@rel='current']/@href}"><xsl:value-of select="$latest"/></a>
          </xsl:if>
        </nav>
      </body>
    </html>
  </xsl:template>
  <xsl:template match="item">
    <article lang="{dc:language|$lang[not(current()/dc:language)]}">
      <h2><a href="{link}"><xsl:value-of select="title"/></a></h2>
      <p class="meta"><xsl:value-of select="pubDate"/>
        <xsl:if test="dc:creator and string(dc:creator) != string(source)"> · <xsl:value-of select="dc:creator"/></xsl:if>
        <xsl:if test="source"> · <xsl:value-of select="source"/></xsl:if></p>
      <p><xsl:value-of select="description"/></p>
      <xsl:if test="dc:rights"><p><small><xsl:value-of select="dc:rights"/></small></p></xsl:if>
    </article>
  </xsl:template>
  <xsl:template match="atom:entry">
    <article lang="{@xml:lang|$lang[not(current()/@xml:lang)]}">
      <h2><a href="{atom:link[@rel='alternate'][not(@hreflang)]/@href}"><xsl:value-of select="atom:title"/></a></h2>
      <p class="meta"><xsl:value-of select="substring(atom:published, 1, 10)"/>
        <!-- An entry without an author of its own names its source as one (Atom wants one). -->
        <xsl:if test="atom:author/atom:name and string(atom:author/atom:name) != string(atom:source/atom:title)"> · <xsl:value-of select="atom:author/atom:name"/></xsl:if>
        <xsl:if test="atom:source/atom:title"> · <xsl:value-of select="atom:source/atom:title"/></xsl:if></p>
      <p><xsl:value-of select="atom:summary"/></p>
      <xsl:if test="atom:link[@rel='via']"><p><a href="{atom:link[@rel='via']/@href}"><xsl:value-of select="$original"/></a></p></xsl:if>
      <xsl:if test="atom:rights"><p><small><xsl:value-of select="atom:rights"/></small></p></xsl:if>
    </article>
  </xsl:template>
</xsl:stylesheet>
