<?xml version="1.0" encoding="UTF-8"?>
<!-- Renders our RSS 2.0 and Atom 1.0 feeds as a readable page when opened in a browser
     from a host that serves the files as they are (S3, a plain static server). Our own server
     and deploy/nginx.conf never need it: they answer a browser with the feed folder's
     index.html page instead. Browsers are removing XSLT; where it is gone, this instruction is
     ignored and feed readers never read it, so keeping it costs nothing.
     The style is inline: a feed sits at different depths (kk/, kk/sources/x/), and relative
     URLs in the output resolve against the feed, so a linked style.css would break. -->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:atom="http://www.w3.org/2005/Atom" xmlns:dc="http://purl.org/dc/elements/1.1/"
    exclude-result-prefixes="atom dc">
  <xsl:output method="html" encoding="UTF-8" indent="yes"/>
  <xsl:variable name="lang" select="rss/channel/language|atom:feed/@xml:lang"/>
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
          @media (prefers-color-scheme: dark) { body { color: #e8eaed; background: #202124; }
            a { color: #8ab4f8; } .note { background: #303134; } }
        </style>
      </head>
      <body>
        <header>
          <h1><xsl:value-of select="rss/channel/title|atom:feed/atom:title"/></h1>
          <p><xsl:value-of select="rss/channel/description|atom:feed/atom:subtitle"/></p>
          <p class="note">This is a news feed: copy this page's address into a feed reader
            to subscribe.
            <xsl:for-each select="rss/channel/atom:link[@rel='alternate'][@hreflang]|atom:feed/atom:link[@rel='alternate'][@hreflang]">
              <xsl:text> </xsl:text><a href="{@href}" hreflang="{@hreflang}"><xsl:value-of select="@hreflang"/></a>
            </xsl:for-each>
          </p>
        </header>
        <main>
          <xsl:apply-templates select="rss/channel/item|atom:feed/atom:entry"/>
        </main>
      </body>
    </html>
  </xsl:template>
  <xsl:template match="item">
    <article lang="{dc:language|$lang[not(current()/dc:language)]}">
      <h2><a href="{link}"><xsl:value-of select="title"/></a></h2>
      <p class="meta"><xsl:value-of select="pubDate"/>
        <xsl:if test="dc:creator"> · <xsl:value-of select="dc:creator"/></xsl:if>
        <xsl:if test="source"> · <xsl:value-of select="source"/></xsl:if></p>
      <p><xsl:value-of select="description"/></p>
      <xsl:if test="dc:rights"><p><small><xsl:value-of select="dc:rights"/></small></p></xsl:if>
    </article>
  </xsl:template>
  <xsl:template match="atom:entry">
    <article lang="{@xml:lang|$lang[not(current()/@xml:lang)]}">
      <h2><a href="{atom:link[@rel='alternate'][not(@hreflang)]/@href}"><xsl:value-of select="atom:title"/></a></h2>
      <p class="meta"><xsl:value-of select="substring(atom:published, 1, 10)"/>
        <xsl:if test="atom:author/atom:name"> · <xsl:value-of select="atom:author/atom:name"/></xsl:if>
        <xsl:if test="atom:source/atom:title"> · <xsl:value-of select="atom:source/atom:title"/></xsl:if></p>
      <p><xsl:value-of select="atom:summary"/></p>
      <xsl:if test="atom:link[@rel='via']"><p><a href="{atom:link[@rel='via']/@href}">↗</a></p></xsl:if>
      <xsl:if test="atom:rights"><p><small><xsl:value-of select="atom:rights"/></small></p></xsl:if>
    </article>
  </xsl:template>
</xsl:stylesheet>
